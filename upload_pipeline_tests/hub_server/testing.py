"""Client-side helpers: point huggingface_hub and datasets at a local `HubServer`.

Both libraries read their environment **at import time** (hub-protocol.md §2.1): `huggingface_hub.constants`
copies `HF_ENDPOINT`, `HF_HOME`-derived paths and `HF_HUB_DISABLE_XET`; `datasets.config` copies `HF_ENDPOINT`
(without rstrip), cache paths and `HF_UPDATE_DOWNLOAD_COUNTS`; `huggingface_hub.utils._http` precomputes the
trusted Hub origins. Setting env vars in an already-running test process therefore changes nothing, hence:

* in-process clients: `local_hub_clients(url, hf_home)` (context manager) or `use_local_hub(monkeypatch, ...)`
  set the env vars *and* patch every import-time copy listed below, and drop cached `HfFileSystem` instances and
  the shared HTTP session (both are keyed on, or pooled per, endpoint and would outlive a server on a reused port);
* `datasets` workers spawned by `num_proc>1` import afresh from `os.environ`, which `use_local_hub` has set, so
  they need nothing more (checked with `push_to_hub(num_shards=4, num_proc=2)`);
* other subprocesses: pass `env=subprocess_env(url, hf_home)`.

Without the patches, `HfApi(endpoint=url, token=...)` reaches the server but its LFS uploads still go to Xet
(`xet-write-token` → ConnectionError), and `hf_hub_download`, `HfFileSystem` and `datasets` go to huggingface.co.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

DEFAULT_TOKEN = "hub-test-token"

# Xet must be off: with hf_xet installed the client never uses the LFS batch API (§1.1, §4.1). Telemetry off
# skips /api/agent-harnesses, download counts off skips an S3 HEAD from `datasets` (§1.3).
STATIC_CLIENT_ENV = {
    "HF_HUB_DISABLE_XET": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_UPDATE_DOWNLOAD_COUNTS": "0",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
}


def client_env(endpoint: str, hf_home: Path | str, token: str | None = DEFAULT_TOKEN) -> dict[str, str]:
    """The variables a client process needs (merge into `os.environ` for `subprocess` calls)."""
    env = {**STATIC_CLIENT_ENV, "HF_ENDPOINT": endpoint.rstrip("/"), "HF_HOME": str(hf_home)}
    if token is not None:
        env["HF_TOKEN"] = token
    return env


def use_local_hub(
    monkeypatch: pytest.MonkeyPatch, endpoint: str, hf_home: Path | str, token: str | None = DEFAULT_TOKEN
) -> None:
    """Point the already-imported clients of this process at `endpoint`; undone by `monkeypatch` at teardown.

    Also clears `HfFileSystem`'s instance cache and the shared HTTP session now; `local_hub_clients` clears them
    again on exit.
    """
    import datasets.config
    from huggingface_hub import constants
    from huggingface_hub.utils import _http

    endpoint = endpoint.rstrip("/")
    hf_home = Path(hf_home)
    for name, value in client_env(endpoint, hf_home, token).items():
        monkeypatch.setenv(name, value)
    if token is None:
        monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)

    host = urlsplit(endpoint).hostname or ""
    hub_patches = {
        "ENDPOINT": endpoint,
        "HUGGINGFACE_CO_URL_TEMPLATE": endpoint + "/{repo_id}/resolve/{revision}/{filename}",
        "HF_URL_HOSTS": constants.HF_URL_HOSTS | {host},
        "HF_HUB_DISABLE_XET": True,
        "HF_HUB_DISABLE_TELEMETRY": True,
        "HF_HOME": str(hf_home),
        "HF_HUB_CACHE": str(hf_home / "hub"),
        "HUGGINGFACE_HUB_CACHE": str(hf_home / "hub"),
        "HF_ASSETS_CACHE": str(hf_home / "assets"),
        "HF_XET_CACHE": str(hf_home / "xet"),
        "HF_TOKEN_PATH": str(hf_home / "token"),
        "HF_STORED_TOKENS_PATH": str(hf_home / "stored_tokens"),
        "AGENT_HARNESSES_PATH": str(hf_home / ".agent_harnesses.json"),
    }
    for name, value in hub_patches.items():
        monkeypatch.setattr(constants, name, value)
    monkeypatch.setattr(_http, "_HUB_ORIGINS", _http._HUB_ORIGINS | {_http._url_origin(endpoint)})

    datasets_cache = hf_home / "datasets"
    datasets_patches = {
        "HF_ENDPOINT": endpoint,
        "HUB_DATASETS_URL": endpoint + "/datasets/{repo_id}/resolve/{revision}/{path}",
        "HF_UPDATE_DOWNLOAD_COUNTS": False,
        "HF_CACHE_HOME": str(hf_home),
        "HF_DATASETS_CACHE": datasets_cache,
        "HF_MODULES_CACHE": hf_home / "modules",
        "DOWNLOADED_DATASETS_PATH": datasets_cache / "downloads",
        "EXTRACTED_DATASETS_PATH": datasets_cache / "downloads" / "extracted",
    }
    for name, value in datasets_patches.items():
        monkeypatch.setattr(datasets.config, name, value)
    reset_client_caches()


def reset_client_caches() -> None:
    """Forget cached `HfFileSystem` instances (with their dircache) and pooled connections."""
    from huggingface_hub import HfFileSystem
    from huggingface_hub.utils import close_session

    HfFileSystem.clear_instance_cache()
    close_session()


@contextmanager
def local_hub_clients(endpoint: str, hf_home: Path | str, token: str | None = DEFAULT_TOKEN) -> Iterator[None]:
    """Context-manager form of `use_local_hub`, restoring everything on exit."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        use_local_hub(monkeypatch, endpoint, hf_home, token)
        try:
            yield
        finally:
            reset_client_caches()


def subprocess_env(endpoint: str, hf_home: Path | str, token: str | None = DEFAULT_TOKEN) -> dict[str, str]:
    """A full environment for `subprocess.run(..., env=...)`: the current one plus `client_env`."""
    env = {key: value for key, value in os.environ.items() if key not in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")}
    return {**env, **client_env(endpoint, hf_home, token)}
