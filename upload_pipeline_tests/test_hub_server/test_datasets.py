"""`datasets` 5.2.0 against the local Hub: push_to_hub (Dataset and DatasetDict) then load_dataset round trips."""

from __future__ import annotations

import datasets
import pytest

pytestmark = pytest.mark.timeout(60)

ROWS = {"id": list(range(20)), "text": [f"row {i}" for i in range(20)]}


def test_dataset_push_then_load(api, hub):
    ds = datasets.Dataset.from_dict(ROWS)

    ds.push_to_hub("tester/pds", private=True)
    loaded = datasets.load_dataset("tester/pds", split="train")

    assert loaded.to_dict() == ROWS
    tree = hub.tree("tester/pds")
    assert tree["data/train-00000-of-00001.parquet"]["lfs"] is True
    assert tree["README.md"]["lfs"] is False
    assert hub.counters.commits == 1  # shards and card land in one commit
    assert hub.counters.lfs_bytes == tree["data/train-00000-of-00001.parquet"]["size"]


def test_second_identical_push_uploads_nothing(api, hub):
    ds = datasets.Dataset.from_dict(ROWS)
    ds.push_to_hub("tester/pds")
    hub.reset()

    ds.push_to_hub("tester/pds")

    assert hub.counters.lfs_bytes == 0 and hub.counters.commits == 0
    assert hub.counters.count("POST", "lfs_batch") == 1  # the batch answer said "already stored"


def test_dataset_dict_push_then_load_and_stream(api, hub):
    dd = datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_dict(ROWS),
            "test": datasets.Dataset.from_dict({k: v[:5] for k, v in ROWS.items()}),
        }
    )

    dd.push_to_hub("tester/pdd")
    loaded = datasets.load_dataset("tester/pdd")
    streamed = list(datasets.load_dataset("tester/pdd", split="test", streaming=True))

    assert {split: loaded[split].to_dict() for split in loaded} == {split: dd[split].to_dict() for split in dd}
    assert streamed == [{"id": i, "text": f"row {i}"} for i in range(5)]
    assert {p for p in hub.tree("tester/pdd") if p.startswith("data/")} == {
        "data/train-00000-of-00001.parquet",
        "data/test-00000-of-00001.parquet",
    }


def test_push_survives_a_connection_cut_during_a_shard_upload(api, hub):
    rule = hub.faults.cut_connection("PUT", kind="lfs_upload", after_bytes=100)

    datasets.Dataset.from_dict(ROWS).push_to_hub("tester/pds")

    assert rule.hits == 1
    assert datasets.load_dataset("tester/pds", split="train").to_dict() == ROWS
