"""Shared fixtures: a throw-away pipeline workspace (landing, staging, state, remote) in tmp_path."""

from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from upload_pipeline import steps
from upload_pipeline.config import PipelineConfig
from upload_pipeline.config_file import load_config
from upload_pipeline.steps import DatasetPaths
from upload_pipeline_tests import datagen


@dataclass
class Workspace:
    root: Path
    config_file: Path

    @property
    def landing(self) -> Path:
        return self.root / "process" / "ds"

    @property
    def staged(self) -> Path:
        return self.root / "staging" / "ds"

    def config(self) -> PipelineConfig:
        return load_config(self.config_file, environ={})

    def paths(self) -> DatasetPaths:
        cfg = self.config()
        return DatasetPaths.of(cfg, cfg.datasets[0])

    def dataset(self, **overrides):
        data = yaml.safe_load(self.config_file.read_text())
        data["datasets"][0].update(overrides)
        self.config_file.write_text(yaml.safe_dump(data, sort_keys=False))
        return self.config().datasets[0]

    def stage(self):
        """Run the steps up to the staged tree (landed files, shards, card); returns (dataset, paths)."""
        ds, paths = self.config().datasets[0], self.paths()
        steps.land(ds, paths)
        steps.shard(ds, paths)
        steps.write_card(ds, paths)
        return ds, paths

    def land(self, relpath: str, rows: int = 100, seed: int = 0, start_id: int = 0, **kwargs) -> Path:
        path = datagen.write(self.landing / relpath, rows, seed=seed, start_id=start_id, **kwargs)
        settle(path)
        return path


@pytest.fixture
def file_syncs(monkeypatch) -> list[tuple]:
    """The fsyncs of regular files, ("sync", inode), and the renames, ("rename", inode, new name), made while the
    test runs, in order (the calls are still made): what a power loss could leave is read from their order."""
    events: list[tuple] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        if stat.S_ISREG(os.fstat(fd).st_mode):
            events.append(("sync", os.fstat(fd).st_ino))
        real_fsync(fd)

    def replace(src, dst):
        events.append(("rename", os.stat(src).st_ino, os.path.basename(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    return events


def settle(path: Path) -> None:
    """Age a landed file past `settle_seconds`, as if its writer finished a while ago."""
    old = time.time() - 3600
    os.utime(path, (old, old))


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    root = tmp_path / "ws"
    config = {
        "paths": {"landing": str(root / "process"), "staging": str(root / "staging"),
                  "state": str(root / "state"), "remote": str(root / "remote")},
        "datasets": [{
            "name": "ds", "splits": {"train": ["train/**"], "test": ["test/**"]},
            "settle_seconds": 5, "card": {"pretty_name": "Test set", "license": "mit"},
            "hub": {"repo_id": "tests/ds"}, "s3": {"bucket": "test-bucket", "prefix": "datasets/ds"},
        }],
    }
    root.mkdir(parents=True)
    config_file = root / "upload_pipeline.yaml"
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    return Workspace(root, config_file)


WRITE_TOKEN = "hf_test_write_token_0123456789"
READ_TOKEN = "hf_test_read_token_0123456789"


@pytest.fixture
def hub_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The local Hub server on 127.0.0.1 (ephemeral port) with one write and one read-only token, and this
    process's huggingface_hub / datasets pointed at it (see hub_server/testing.py for why patching is needed)."""
    from upload_pipeline_tests.hub_server import HubServer
    from upload_pipeline_tests.hub_server.testing import use_local_hub

    with HubServer(tmp_path / "hub-root", write_tokens=[WRITE_TOKEN], read_tokens=[READ_TOKEN]) as server:
        use_local_hub(monkeypatch, server.url, tmp_path / "hf-home", token=WRITE_TOKEN)
        yield server


# S3 servers (upload_pipeline_tests/s3_server): one moto and one radosgw cluster per session, shared by the
# s3_server tests, the provider tests and the archive tests; a bucket and a fault proxy per test.


@pytest.fixture(scope="session")
def moto():
    from upload_pipeline_tests.s3_server import moto_server

    with moto_server() as server:
        yield server


@pytest.fixture
def bucket(moto):
    from upload_pipeline_tests.s3_server import s3_bucket

    with s3_bucket(moto.client()) as name:
        yield name


@pytest.fixture
def proxy(moto):
    from upload_pipeline_tests.s3_server import fault_proxy

    with fault_proxy(moto.endpoint) as running:
        yield running


@pytest.fixture
def proxied(moto, proxy):
    """The moto endpoint as seen through the proxy (same credentials, proxy URL)."""
    return moto.endpoint.with_url(proxy.endpoint_url)


@pytest.fixture(scope="session")
def radosgw(tmp_path_factory):
    from upload_pipeline_tests.s3_server import radosgw_cluster

    with radosgw_cluster(tmp_path_factory.mktemp("radosgw")) as cluster:
        yield cluster


@pytest.fixture
def rgw_bucket(radosgw):
    from upload_pipeline_tests.s3_server import s3_bucket

    with s3_bucket(radosgw.endpoint.client()) as name:
        yield name


@pytest.fixture
def no_ambient_aws(monkeypatch, tmp_path):
    """Nothing from this machine's AWS setup leaks in: no keys, no profile, no instance metadata lookups."""
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                "AWS_ENDPOINT_URL", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
