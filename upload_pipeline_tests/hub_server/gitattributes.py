"""Upload-mode rules: which paths are LFS (from `.gitattributes`) and which are ignored (from `.gitignore`).

The preupload answer must be "lfs" for parquet shards: `datasets` deletes each shard's temp file right after
preupload, so a "regular" shard cannot be read back at commit time (hub-protocol.md §1.2, §3.12).
"""

from __future__ import annotations

import base64
import binascii
from fnmatch import fnmatchcase

# Files above this size are always LFS, like the real Hub's 10 MB limit on regular files (§3.12).
LFS_SIZE_THRESHOLD = 10 * 1024 * 1024

_LFS_ATTRS = "filter=lfs diff=lfs merge=lfs -text"
_DEFAULT_LFS_PATTERNS = (
    "*.7z *.arrow *.bin *.bz2 *.ckpt *.ftz *.gz *.h5 *.joblib *.lfs.* *.lz4 *.mds *.mlmodel *.model *.msgpack *.npy "
    "*.npz *.onnx *.ot *.parquet *.pb *.pickle *.pkl *.pt *.pth *.rar *.safetensors saved_model/**/* *.tar.* *.tar "
    "*.tflite *.tgz *.wasm *.xz *.zip *.zst *tfevents* "
    # Media, as in the Hub's default dataset .gitattributes.
    "*.pcm *.sam *.raw *.aac *.flac *.mp3 *.ogg *.wav *.bmp *.gif *.png *.tiff *.jpg *.jpeg *.webp *.mp4 *.webm"
).split()

# Committed as `.gitattributes` by the initial commit of every new repo.
DEFAULT_GITATTRIBUTES = "".join(f"{pattern} {_LFS_ATTRS}\n" for pattern in _DEFAULT_LFS_PATTERNS)


def lfs_patterns(gitattributes: str) -> list[str]:
    """Patterns whose attributes include `filter=lfs`."""
    patterns = []
    for line in gitattributes.splitlines():
        fields = line.split()
        if fields and not fields[0].startswith("#") and "filter=lfs" in fields[1:]:
            patterns.append(fields[0])
    return patterns


def matches_any(path: str, patterns: list[str], *, match_dirs: bool = False) -> bool:
    """Git-style match (approximation): a pattern with a `/` matches the whole path, one without matches the
    basename, or with `match_dirs` (gitignore semantics) any directory component too.
    """
    parts = path.split("/")
    for pattern in patterns:
        anchored = pattern.strip("/")
        if "/" in anchored:
            if fnmatchcase(path, anchored) or fnmatchcase(path, anchored.replace("**/", "")):
                return True
        elif any(fnmatchcase(part, anchored) for part in (parts if match_dirs else parts[-1:])):
            return True
    return False


def upload_mode(path: str, size: int, sample_b64: str, patterns: list[str]) -> str:
    """ "lfs" for LFS-tracked paths, files over 10 MB and binary samples (NUL bytes); "regular" otherwise."""
    if size > LFS_SIZE_THRESHOLD or matches_any(path, patterns):
        return "lfs"
    try:
        sample = base64.b64decode(sample_b64 or "", validate=True)
    except binascii.Error:
        sample = b""
    return "lfs" if b"\0" in sample else "regular"


def gitignore_patterns(gitignore: str | None) -> list[str]:
    """Non-negated, non-comment lines of a `.gitignore` (negations are not modelled)."""
    lines = (line.strip() for line in (gitignore or "").splitlines())
    return [line for line in lines if line and not line.startswith(("#", "!"))]
