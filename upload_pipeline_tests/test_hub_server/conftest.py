"""Fixtures for the local Hub server tests.

How the rest of the suite should talk to the server (the approach these fixtures use):

* `hub` starts a `HubServer` on 127.0.0.1 with an ephemeral port, persisted under `tmp_path`, and stops it
  (listening socket closed, every handler thread joined) at teardown.
* `api` points the *already imported* huggingface_hub and datasets at it for one test:
  `use_local_hub(monkeypatch, hub.url, hf_home)` sets HF_ENDPOINT, HF_TOKEN, HF_HUB_DISABLE_XET=1,
  HF_HUB_DISABLE_TELEMETRY=1, HF_UPDATE_DOWNLOAD_COUNTS=0, HF_HUB_DISABLE_PROGRESS_BARS=1 and HF_HOME with
  monkeypatch, and also patches the import-time copies (`huggingface_hub.constants.ENDPOINT`, its URL template,
  trusted hosts, cache/token paths and `HF_HUB_DISABLE_XET`; `huggingface_hub.utils._http._HUB_ORIGINS`;
  `datasets.config.HF_ENDPOINT`, `HUB_DATASETS_URL`, cache paths, `HF_UPDATE_DOWNLOAD_COUNTS`), because env vars
  set after import are ignored. Then `hf_hub_download`, `HfFileSystem()`, `Dataset.push_to_hub` and
  `datasets.load_dataset("ns/name")` all hit the local server. Still pass `endpoint=hub.url` to `HfApi`: it is
  explicit and survives code that builds clients before the patch.
* `datasets` `num_proc>1` workers are spawned and inherit the monkeypatched `os.environ`: nothing more needed.
  Other subprocess clients: `subprocess.run(..., env=subprocess_env(hub.url, hf_home))`.
"""

from __future__ import annotations

import pytest
from huggingface_hub import HfApi

from upload_pipeline_tests.hub_server import HubServer
from upload_pipeline_tests.hub_server.testing import DEFAULT_TOKEN, reset_client_caches, use_local_hub

WRITE_TOKEN = DEFAULT_TOKEN
READ_TOKEN = "hub-read-token"


@pytest.fixture
def hub_root(tmp_path):
    return tmp_path / "hub-root"


@pytest.fixture
def hub(hub_root):
    """A running server accepting any token; tests may reconfigure it before the first request."""
    server = HubServer(hub_root).start()
    yield server
    server.stop()


@pytest.fixture
def strict_hub(hub_root):
    """A server that only accepts `WRITE_TOKEN` (write) and `READ_TOKEN` (read-only)."""
    server = HubServer(hub_root, write_tokens=[WRITE_TOKEN], read_tokens=[READ_TOKEN]).start()
    yield server
    server.stop()


@pytest.fixture
def hf_home(tmp_path):
    return tmp_path / "hf-home"


@pytest.fixture
def api(hub, hf_home, monkeypatch):
    """In-process clients pointed at `hub` (see the module docstring); yields an `HfApi` with a write token."""
    use_local_hub(monkeypatch, hub.url, hf_home)
    yield HfApi(endpoint=hub.url, token=WRITE_TOKEN)
    reset_client_caches()
