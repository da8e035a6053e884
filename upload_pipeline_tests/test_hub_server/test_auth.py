"""Token handling of the local Hub in strict mode: 401/403, private repo visibility, whoami, log redaction."""

from __future__ import annotations

import logging

import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

from upload_pipeline_tests.hub_server.testing import use_local_hub

from .conftest import READ_TOKEN, WRITE_TOKEN

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def clients(strict_hub, hf_home, monkeypatch):
    use_local_hub(monkeypatch, strict_hub.url, hf_home, token=None)

    def client(token):
        return HfApi(endpoint=strict_hub.url, token=token)

    return {
        "write": client(WRITE_TOKEN),
        "read": client(READ_TOKEN),
        "anonymous": client(False),
        "bad": client("not-a-token"),
    }


def status_of(call) -> int:
    with pytest.raises(HfHubHTTPError) as err:
        call()
    return err.value.response.status_code


def test_whoami_roles_and_bad_token(clients):
    assert clients["write"].whoami()["auth"]["accessToken"]["role"] == "write"
    assert clients["read"].whoami()["auth"]["accessToken"]["role"] == "read"
    assert status_of(clients["bad"].whoami) == 401


def test_writes_need_a_write_token(clients, strict_hub):
    create = {"repo_id": "tester/ds1", "repo_type": "dataset"}

    assert status_of(lambda: clients["anonymous"].create_repo(**create)) == 401
    assert status_of(lambda: clients["read"].create_repo(**create)) == 403
    assert status_of(lambda: clients["bad"].create_repo(**create)) == 401
    clients["write"].create_repo(**create)
    upload = {"path_or_fileobj": b"x", "path_in_repo": "a.txt", "repo_id": "tester/ds1", "repo_type": "dataset"}
    assert status_of(lambda: clients["read"].upload_file(**upload)) == 403
    assert status_of(lambda: clients["anonymous"].upload_file(**upload)) == 401
    assert len(strict_hub.list_commits("tester/ds1")) == 1


def test_private_repo_is_invisible_without_a_valid_token(clients):
    clients["write"].create_repo("tester/secret", repo_type="dataset", private=True)
    clients["write"].create_repo("tester/public", repo_type="dataset")

    with pytest.raises(RepositoryNotFoundError):
        clients["anonymous"].dataset_info("tester/secret")
    with pytest.raises(RepositoryNotFoundError):
        clients["anonymous"].list_repo_files("tester/secret", repo_type="dataset")
    assert clients["anonymous"].dataset_info("tester/public").private is False
    assert clients["read"].dataset_info("tester/secret").private is True
    assert status_of(lambda: clients["bad"].dataset_info("tester/public")) == 401


def test_access_log_never_contains_the_token(clients, caplog):
    caplog.set_level(logging.INFO, logger="upload_pipeline_tests.hub_server")

    clients["write"].create_repo("tester/ds1", repo_type="dataset")
    clients["write"].upload_file(
        path_or_fileobj=b"\x00" * 100, path_in_repo="x.bin", repo_id="tester/ds1", repo_type="dataset"
    )

    assert caplog.records and "Bearer ***" in caplog.text
    assert WRITE_TOKEN not in caplog.text
