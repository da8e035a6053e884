"""The dataset card: metadata `datasets` reads back, and merges that keep prose and other configs."""

from __future__ import annotations

import logging

import datasets
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from datasets.utils.metadata import MetadataConfigs
from huggingface_hub import DatasetCard

from upload_pipeline import card, steps
from upload_pipeline.copying import FOOTER_KEY
from upload_pipeline.staging import read_shards, shards_schema
from upload_pipeline_tests.conftest import settle


def staged_card(workspace) -> str:
    ds, paths = workspace.config().datasets[0], workspace.paths()
    steps.land(ds, paths)
    steps.shard(ds, paths)
    return steps.write_card(ds, paths)


def test_card_metadata_loads_and_matches_the_shards(workspace):
    workspace.land("train/a.parquet", rows=120)
    workspace.land("test/a.parquet", rows=30, seed=1)
    text = staged_card(workspace)
    data = DatasetCard(text).data
    assert data.license == "mit" and data.pretty_name == "Test set"
    configs = MetadataConfigs.from_dataset_card_data(data)
    assert configs["default"]["data_files"] == [{"split": "train", "path": "data/train-*"},
                                                {"split": "test", "path": "data/test-*"}]
    info = data["dataset_info"]
    assert {s["name"]: s["num_examples"] for s in info["splits"]} == {"train": 120, "test": 30}
    assert info["download_size"] == sum(p.stat().st_size for p in (workspace.staged / "data").iterdir())
    loaded = datasets.load_dataset(str(workspace.staged))
    assert {k: v.num_rows for k, v in loaded.items()} == {"train": 120, "test": 30}
    assert loaded["train"].features == datasets.Features.from_arrow_schema(
        shards_schema(workspace.staged, read_shards(workspace.config().datasets[0], workspace.staged)))
    assert "| train | 120 | 1 |" in text


def test_update_keeps_prose_other_configs_and_other_metadata(workspace):
    workspace.land("train/a.parquet", rows=50)
    text = staged_card(workspace)
    edited = DatasetCard(text)
    edited.data["configs"].append({"config_name": "other", "data_files": "other/*.parquet"})
    edited.data["dataset_info"] = [edited.data["dataset_info"], {"config_name": "other", "features": []}]
    edited.data["annotations_creators"] = ["expert-generated"]
    edited.text = "# My own title\n\nA paragraph a person wrote.\n\n" + edited.text.split("\n\n", 2)[2] + \
        "\n## Citation\n\nPlease cite us.\n"
    (workspace.staged / "README.md").write_text(str(edited))

    workspace.land("train/b.parquet", rows=25, seed=2, start_id=50)
    updated = DatasetCard(staged_card(workspace))

    assert "A paragraph a person wrote." in updated.text and "Please cite us." in updated.text
    assert updated.text.count(card.begin_marker("default")) == 1 and "| train | 75 | 2 |" in updated.text
    assert [c["config_name"] for c in updated.data["configs"]] == ["default", "other"]
    infos = {i["config_name"]: i for i in updated.data["dataset_info"]}
    assert infos["other"] == {"config_name": "other", "features": []}
    assert infos["default"]["splits"][0]["num_examples"] == 75
    assert updated.data["annotations_creators"] == ["expert-generated"]


def test_merge_into_a_card_without_markers_appends_the_section(workspace):
    workspace.land("train/a.parquet", rows=10)
    generated = staged_card(workspace)
    merged = card.merge_card("---\nlicense: apache-2.0\n---\n# Theirs\n\nJust prose.\n", generated,
                             workspace.config().datasets[0])
    parsed = DatasetCard(merged)
    assert parsed.text.startswith("# Theirs\n\nJust prose.")
    assert card.begin_marker("default") in parsed.text
    assert parsed.data["license"] == "mit"  # set in the datasets file, so ours
    assert card.generated_metadata(merged, "default") == card.generated_metadata(generated, "default")


def test_a_card_a_person_wrote_without_metadata_is_merged_without_a_warning(workspace, caplog):
    ds = workspace.config().datasets[0]
    generated = card.render_card(ds, [], pa.schema([("id", pa.int64())]), None)
    with caplog.at_level(logging.WARNING):
        merged = card.merge_card("# Notes\n\nWritten by hand.\n", generated, ds)
    assert "Written by hand." in merged and merged.startswith("---\n")
    assert caplog.records == []


def test_only_one_config_is_default(workspace):
    workspace.land("train/a.parquet", rows=10)
    generated = staged_card(workspace)
    base = "---\nconfigs:\n- config_name: legacy\n  data_files: legacy/*\n  default: true\n---\nx\n"
    merged = DatasetCard(card.merge_card(base, generated, workspace.config().datasets[0]))
    assert [c.get("default", False) for c in merged.data["configs"]] == [True, False]


def test_a_named_config_lives_in_its_own_folder(workspace):
    workspace.dataset(config_name="en")
    workspace.land("train/a.parquet", rows=10)
    text = staged_card(workspace)
    assert (workspace.staged / "en" / "train-00000.parquet").exists()
    entry, info = card.generated_metadata(text, "en")
    assert entry == {"config_name": "en", "data_files": [{"split": "train", "path": "en/train-*"}]}
    assert datasets.load_dataset(str(workspace.staged), "en")["train"].num_rows == 10


SHARED = ("---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n    path: data/train-*\n"
          "  default: true\n- config_name: legacy\n  data_files:\n  - split: train\n    path: legacy/train-*\n"
          "  - split: test\n    path: legacy/test-*\ndataset_info:\n- config_name: default\n  splits:\n"
          "  - name: train\n    num_bytes: 10\n    num_examples: 2\n- config_name: legacy\n  splits:\n"
          "  - name: train\n    num_bytes: 30\n    num_examples: 3\n  - name: test\n    num_bytes: 10\n"
          "    num_examples: 1\n---\n# Shared repo\n\nTheir prose.\n\n"
          + card.begin_marker("default") + "\n| split | rows |\n|---|---:|\n| train | 2 |\n"
          + card.end_marker("default")
          + "\n\n" + card.begin_marker("legacy") + "\n| split | rows |\n|---|---:|\n| train | 3 |\n| test | 1 |\n"
          + card.end_marker("legacy") + "\n")


def test_removing_the_last_split_of_a_config_removes_the_config(tmp_path):
    text = card.remove_from_card(SHARED, "default", split="train")
    data = DatasetCard(text).data
    assert [c["config_name"] for c in data["configs"]] == ["legacy"]
    assert data["dataset_info"]["config_name"] == "legacy"
    assert card.begin_marker("default") not in text and "Their prose." in text
    # What `load_dataset(repo)` reads: the remaining config, loadable without naming it.
    (tmp_path / "README.md").write_text(text)
    for split, rows in (("train", [1, 2, 3]), ("test", [4])):
        (tmp_path / "legacy").mkdir(exist_ok=True)
        datasets.Dataset.from_dict({"x": rows}).to_parquet(tmp_path / "legacy" / f"{split}-00000.parquet")
    assert {k: v.num_rows for k, v in datasets.load_dataset(str(tmp_path)).items()} == {"train": 3, "test": 1}


def test_removing_a_split_drops_its_rows_from_the_config_body_section():
    text = card.remove_from_card(SHARED, "legacy", split="test")
    entry, info = card.generated_metadata(text, "legacy")
    assert [f["split"] for f in entry["data_files"]] == ["train"] and [s["name"] for s in info["splits"]] == ["train"]
    assert "| test | 1 |" not in text and "| train | 3 |" in text and "| train | 2 |" in text


def test_an_orphaned_begin_marker_loses_no_prose_over_two_merges(workspace):
    workspace.land("train/a.parquet", rows=10)
    generated = staged_card(workspace)
    ds = workspace.config().datasets[0]
    # A person removed the generated table together with its end marker and wrote below the begin marker.
    theirs = ("---\nlicense: mit\n---\n# Mine\n\n" + card.begin_marker("default") +
              "\n\n## Citation\n\nPlease cite us: Doe et al. 2024.\n")
    first = card.merge_card(theirs, generated, ds)
    second = card.merge_card(first, generated, ds)
    for merged in (first, second):
        assert "Please cite us: Doe et al. 2024." in merged and "# Mine" in merged
        assert merged.count(card.begin_marker("default")) == 1 == merged.count(card.end_marker("default"))
    assert second == first
    without = card.remove_from_card(theirs, "default")
    assert card.begin_marker("default") not in without and "Please cite us" in without


def land_categorical(workspace, relpath: str, values: list[str]) -> None:
    """A pandas job's categorical column: int8 codes up to 127 categories, int16 above."""
    path = workspace.landing / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"c": pd.Categorical(values)}).to_parquet(path, index=False)
    settle(path)


def test_shards_staged_with_a_dictionary_type_still_take_new_files_and_get_their_card(workspace):
    land_categorical(workspace, "train/a.parquet", ["x", "y"])
    staged_card(workspace)
    # The shard as versions that staged a dictionary as it came wrote it: its Arrow type in the footer, which
    # the rows of the next file (300 categories, int16 codes) did not match.
    shard = workspace.staged / "data/train-00000.parquet"
    old = pa.schema([("c", pa.dictionary(pa.int8(), pa.string()))],
                    metadata={FOOTER_KEY: pq.read_metadata(shard).metadata[FOOTER_KEY]})
    pq.write_table(pq.read_table(shard).cast(old), shard)
    land_categorical(workspace, "train/b.parquet", [f"v{i}" for i in range(300)])

    ds, paths = workspace.config().datasets[0], workspace.paths()
    assert steps.land(ds, paths).rejected == []
    assert pq.read_schema(workspace.staged / steps.shard(ds, paths).written[0].path).field("c").type == pa.string()
    text = steps.write_card(ds, paths)

    assert DatasetCard(text).data["dataset_info"]["features"] == [{"name": "c", "dtype": "string"}]
    loaded = datasets.load_dataset(str(workspace.staged), cache_dir=str(workspace.root / "hf-cache"))
    assert loaded["train"]["c"] == ["x", "y"] + [f"v{i}" for i in range(300)]
