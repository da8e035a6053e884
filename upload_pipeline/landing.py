"""Discovery of landed files: which files in a dataset's landing folder are ready to publish.

Read-only: nothing here opens a landing file for writing, renames or deletes it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from wcmatch import glob

from upload_pipeline.config import DatasetConfig

# `**` crosses folders; patterns never match hidden files (DOTGLOB off), so `._foo.parquet` stays out.
_GLOB_FLAGS = glob.GLOBSTAR | glob.BRACE
# Written by other tools next to real data while they work; never data themselves.
_TEMP_SUFFIXES = (".tmp", ".partial", ".part", ".crdownload", "~")
_SKIPPED_DIRS = ("_temporary",)  # Spark's in-progress output


@dataclass(frozen=True)
class LandedFile:
    """A settled file in the landing folder, mapped to its split."""

    path: Path
    relpath: str
    split: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Rejection:
    relpath: str
    reason: str


@dataclass
class Discovery:
    files: list[LandedFile] = field(default_factory=list)
    unsettled: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)


def is_system_file(name: str) -> bool:
    """Hidden files (`.DS_Store`, macOS `._*` forks, editors' swap files) and in-progress temp files."""
    return name.startswith(".") or name.endswith(_TEMP_SUFFIXES)


def split_for(relpath: str, splits: dict[str, list[str]]) -> tuple[str | None, str | None]:
    """Return (split, None), or (None, reason) when the file matches no split or more than one."""
    matches = [name for name, patterns in splits.items() if glob.globmatch(relpath, patterns, flags=_GLOB_FLAGS)]
    if len(matches) == 1:
        return matches[0], None
    if not matches:
        return None, f"matches no split pattern (splits: {', '.join(splits)})"
    return None, f"matches the patterns of several splits ({', '.join(matches)})"


def discover(ds: DatasetConfig, folder: Path, now: float) -> Discovery:
    """List the dataset's landed files, sorted by relative path.

    A file is settled when its mtime is at least `ds.settle_seconds` old: a writer that is still appending
    keeps touching it. Files that are not settled are left for a later run, not reported as bad.
    """
    found = Discovery()
    if not folder.is_dir():
        return found
    root = folder.resolve()
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        dirnames[:] = _walked(dirnames)
        for name in [d for d in dirnames if (Path(dirpath) / d).is_symlink()]:
            # Not walked into (os.walk does not follow links), so said: one pointing outside that holds files
            # the dataset would take is refused like such a file; otherwise it is ignored (pointing inside, its
            # files are found where they are).
            dirnames.remove(name)
            link = Path(dirpath) / name
            relpath, target = _shown(link.relative_to(folder).as_posix()) + "/", link.resolve()
            if target.is_relative_to(root) or not _takes_any(ds, link, relpath):
                found.ignored.append(relpath)
            else:
                found.rejected.append(Rejection(relpath, f"symlinked folder points outside the landing folder "
                                                         f"({target}); move or copy its files in"))
        for name in sorted(filenames):
            path = Path(dirpath) / name
            relpath = path.relative_to(folder).as_posix()
            if is_system_file(name) or not _wanted(ds, relpath):
                found.ignored.append(_shown(relpath))
                continue
            if _shown(relpath) != relpath:
                # Parquet readers, the Hub and S3 keys all need UTF-8: refused here, named the only way it prints.
                found.rejected.append(Rejection(_shown(relpath), "the file name is not valid UTF-8; rename the file"))
                continue
            _classify(ds, root, path, relpath, now, found)
    found.files.sort(key=lambda f: f.relpath)
    return found


def _walked(dirnames: list[str]) -> list[str]:
    """The sub-folders a walk goes into, in order: hidden ones and Spark's in-progress output stay out."""
    return sorted(d for d in dirnames if not d.startswith(".") and d not in _SKIPPED_DIRS)


def _wanted(ds: DatasetConfig, relpath: str) -> bool:
    return glob.globmatch(relpath, ds.include, flags=_GLOB_FLAGS) and not glob.globmatch(
        relpath, ds.exclude, flags=_GLOB_FLAGS)


def _shown(relpath: str) -> str:
    """`relpath` as it prints: os.walk gives a name's undecodable bytes as lone surrogates, shown as `\\xNN`."""
    return relpath.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _takes_any(ds: DatasetConfig, link: Path, relpath: str, limit: int = 10_000) -> bool:
    """Whether the folder behind `link` holds a file the dataset would take (include, not exclude) were it in the
    landing folder: names only, nothing is read, and at most `limit` names (a link to a whole disk)."""
    seen = 0
    for dirpath, dirnames, filenames in os.walk(link, followlinks=False):
        dirnames[:] = _walked(dirnames)
        for name in filenames:
            seen += 1
            rel = relpath + (Path(dirpath) / name).relative_to(link).as_posix()
            if not is_system_file(name) and _wanted(ds, rel):
                return True
            if seen >= limit:
                return False
    return False


def _classify(ds: DatasetConfig, root: Path, path: Path, relpath: str, now: float, found: Discovery) -> None:
    if path.is_symlink():
        target = path.resolve()
        if not target.is_relative_to(root):
            found.rejected.append(Rejection(relpath, f"symlink points outside the landing folder ({target})"))
            return
    try:
        stat = path.stat()  # follows an inside symlink: its target's bytes are what we publish
    except OSError as exc:
        found.rejected.append(Rejection(relpath, f"cannot stat: {exc.strerror}"))
        return
    if not path.is_file():
        found.ignored.append(relpath)
        return
    if now - stat.st_mtime < ds.settle_seconds:
        found.unsettled.append(relpath)
        return
    split, reason = split_for(relpath, ds.splits)
    if split is None:
        found.rejected.append(Rejection(relpath, reason or "no split"))
        return
    found.files.append(LandedFile(path, relpath, split, stat.st_size, stat.st_mtime_ns))
