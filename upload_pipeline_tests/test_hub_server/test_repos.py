"""Repo lifecycle on the local Hub through the real HfApi: create (private, exist_ok, 409), info, delete, YAML."""

from __future__ import annotations

import pytest
from huggingface_hub import RepoUrl
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError
from huggingface_hub.utils import get_session

pytestmark = pytest.mark.timeout(30)


def test_create_repo_private_and_exist_ok(api, hub):
    url = api.create_repo("tester/ds1", repo_type="dataset", private=True)

    assert isinstance(url, RepoUrl)
    assert (url.repo_id, url.repo_type, url.endpoint) == ("tester/ds1", "dataset", hub.url)
    assert api.create_repo("tester/ds1", repo_type="dataset", exist_ok=True).repo_id == "tester/ds1"
    info = api.dataset_info("tester/ds1")
    assert info.private is True
    assert [s.rfilename for s in info.siblings] == [".gitattributes"]  # the Hub's initial commit
    assert len(info.sha) == 40 and info.sha == hub.list_commits("tester/ds1")[0]["id"]


def test_create_existing_repo_is_409(api):
    api.create_repo("tester/ds1", repo_type="dataset")

    with pytest.raises(HfHubHTTPError) as err:
        api.create_repo("tester/ds1", repo_type="dataset")

    assert err.value.response.status_code == 409


def test_model_and_dataset_namespaces_are_separate(api, hub):
    api.create_repo("tester/same", repo_type="dataset")
    api.create_repo("tester/same")  # model

    assert hub.repo_exists("tester/same", "dataset") and hub.repo_exists("tester/same", "model")
    assert api.model_info("tester/same").id == "tester/same"


def test_missing_repo_and_revision_map_to_client_exceptions(api):
    with pytest.raises(RepositoryNotFoundError):
        api.dataset_info("tester/nope")
    assert api.repo_exists("tester/nope", repo_type="dataset") is False

    api.create_repo("tester/ds1", repo_type="dataset")
    with pytest.raises(RevisionNotFoundError):
        api.dataset_info("tester/ds1", revision="no-such-branch")
    assert api.revision_exists("tester/ds1", "main", repo_type="dataset")


def test_delete_repo_and_missing_ok(api, hub):
    api.create_repo("tester/ds1", repo_type="dataset")

    api.delete_repo("tester/ds1", repo_type="dataset")

    assert not hub.repo_exists("tester/ds1")
    api.delete_repo("tester/ds1", repo_type="dataset", missing_ok=True)
    with pytest.raises(RepositoryNotFoundError):
        api.delete_repo("tester/ds1", repo_type="dataset")


def test_repo_info_with_files_metadata_and_card_data(api):
    api.create_repo("tester/ds1", repo_type="dataset")
    card = "---\nlicense: mit\npretty_name: Demo\n---\n# Demo\n"
    api.upload_file(path_or_fileobj=card.encode(), path_in_repo="README.md", repo_id="tester/ds1", repo_type="dataset")
    api.upload_file(
        path_or_fileobj=b"\x00" * 300, path_in_repo="data/x.parquet", repo_id="tester/ds1", repo_type="dataset"
    )

    info = api.dataset_info("tester/ds1", files_metadata=True)

    assert info.card_data.license == "mit"
    siblings = {s.rfilename: s for s in info.siblings}
    assert siblings["README.md"].size == len(card) and siblings["README.md"].lfs is None
    assert siblings["data/x.parquet"].lfs.size == 300 and len(siblings["data/x.parquet"].lfs.sha256) == 64
    assert api.dataset_info("tester/ds1", expand=["sha"]).sha == info.sha


def test_validate_yaml_accepts_datasets_cards_and_rejects_bad_configs(api, hub):
    api.create_repo("tester/ds1", repo_type="dataset")
    good = "---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n    path: data/train-*\n---\n"
    bad = "---\nconfigs:\n- data_files: data/*.parquet\n---\n"

    api.upload_file(path_or_fileobj=good.encode(), path_in_repo="README.md", repo_id="tester/ds1", repo_type="dataset")
    with pytest.raises(ValueError, match="config_name"):
        api.upload_file(
            path_or_fileobj=bad.encode(), path_in_repo="README.md", repo_id="tester/ds1", repo_type="dataset"
        )
    # The client parses YAML itself before asking, so send unparseable YAML directly.
    response = get_session().post(
        f"{hub.url}/api/validate-yaml", json={"content": "---\nlicense: [mit\n---\n", "repoType": "dataset"}
    )
    assert response.status_code == 400
    assert "Invalid YAML" in response.json()["errors"][0]["message"]
