"""Discovery: include/exclude, system and temp files, unsettled files, split mapping, symlinks."""

from __future__ import annotations

import os
import time

from upload_pipeline import steps
from upload_pipeline.landing import discover, split_for
from upload_pipeline_tests import datagen
from upload_pipeline_tests.conftest import settle


def names(files):
    return [f.relpath for f in files]


def test_only_settled_included_parquet_files_are_listed(workspace):
    workspace.land("train/a.parquet")
    workspace.land("test/b.parquet")
    for junk in (".DS_Store", "train/._a.parquet", "train/c.parquet.tmp", "train/d.parquet.partial",
                 "train/.hidden.parquet", ".git/x.parquet", "train/_temporary/0/e.parquet", "train/notes.txt"):
        path = workspace.landing / junk
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
        settle(path)
    found = discover(workspace.config().datasets[0], workspace.landing, time.time())
    assert names(found.files) == ["test/b.parquet", "train/a.parquet"]
    assert [f.split for f in found.files] == ["test", "train"]
    assert "train/notes.txt" in found.ignored and "train/c.parquet.tmp" in found.ignored
    assert not found.rejected and not found.unsettled


def test_exclude_wins_over_include(workspace):
    ds = workspace.dataset(include=["**/*.parquet"], exclude=["train/skip/**"])
    workspace.land("train/keep.parquet")
    workspace.land("train/skip/no.parquet")
    assert names(discover(ds, workspace.landing, time.time()).files) == ["train/keep.parquet"]


def test_a_file_still_being_written_waits(workspace):
    ds = workspace.config().datasets[0]
    path = workspace.land("train/a.parquet")
    os.utime(path)  # just modified
    found = discover(ds, workspace.landing, time.time())
    assert found.unsettled == ["train/a.parquet"] and not found.files
    assert names(discover(ds, workspace.landing, time.time() + ds.settle_seconds + 1).files) == ["train/a.parquet"]


def test_files_outside_every_split_or_in_two_are_rejected(workspace):
    ds = workspace.dataset(splits={"train": ["train/**", "**/shared*"], "test": ["test/**", "**/shared*"]})
    workspace.land("other/a.parquet")
    workspace.land("train/shared.parquet")
    found = discover(ds, workspace.landing, time.time())
    reasons = {r.relpath: r.reason for r in found.rejected}
    assert "matches no split pattern" in reasons["other/a.parquet"]
    assert "several splits (train, test)" in reasons["train/shared.parquet"]


def test_symlink_outside_the_landing_folder_is_rejected_inside_is_followed(workspace, tmp_path):
    outside = workspace.land("../../elsewhere.parquet")
    inside = workspace.land("train/real.parquet")
    (workspace.landing / "train").mkdir(parents=True, exist_ok=True)
    (workspace.landing / "train" / "escape.parquet").symlink_to(outside)
    (workspace.landing / "train" / "alias.parquet").symlink_to(inside)
    found = discover(workspace.config().datasets[0], workspace.landing, time.time())
    assert names(found.files) == ["train/alias.parquet", "train/real.parquet"]
    assert [(r.relpath, "outside the landing folder" in r.reason) for r in found.rejected] == [
        ("train/escape.parquet", True)]


def test_odd_names_are_fine(workspace):
    for name in ("train/with space.parquet", "train/ünïcødé.parquet", "train/" + "l" * 200 + ".parquet",
                 "train/a..b.parquet"):
        workspace.land(name)
    found = discover(workspace.config().datasets[0], workspace.landing, time.time())
    assert len(found.files) == 4 and not found.rejected


def test_missing_landing_folder_is_empty(workspace):
    assert not discover(workspace.config().datasets[0], workspace.landing / "nope", time.time()).files


def test_split_globs_cross_folders():
    assert split_for("train/2026/01/a.parquet", {"train": ["train/**"]}) == ("train", None)


def test_symlinked_folders_are_reported_not_passed_over_in_silence(workspace, tmp_path):
    outside = tmp_path / "bigdisk" / "train"
    settle(datagen.write(outside / "a.parquet", 10, seed=0))
    inside = workspace.land("test/a.parquet")
    os.symlink(outside, workspace.landing / "train")
    os.symlink(inside.parent, workspace.landing / "test-alias")
    found = discover(workspace.config().datasets[0], workspace.landing, time.time())
    assert names(found.files) == ["test/a.parquet"] and "test-alias/" in found.ignored
    [rejected] = found.rejected
    assert rejected.relpath == "train/" and "symlinked folder points outside the landing folder" in rejected.reason


def test_a_file_name_that_is_not_utf8_is_rejected_naming_it_and_the_others_go_on(workspace):
    good = workspace.land("train/good.parquet")
    latin1 = os.fsencode(workspace.landing / "train") + b"/caf\xe9.parquet"  # e.g. copied from an SMB share
    with open(latin1, "wb") as f:
        f.write(good.read_bytes())
    settle(os.fsdecode(latin1))
    ds, paths = workspace.config().datasets[0], workspace.paths()
    found = discover(ds, workspace.landing, time.time())
    assert names(found.files) == ["train/good.parquet"]
    assert [(r.relpath, r.reason) for r in found.rejected] == [
        ("train/caf\\xe9.parquet", "the file name is not valid UTF-8; rename the file")]
    landing = steps.land(ds, paths)  # validation, and its log lines, get only printable names
    assert [f.relpath for f in landing.validation.files] == ["train/good.parquet"]


def test_include_and_exclude_come_first_for_linked_folders_and_undecodable_names(workspace, tmp_path):
    """What the dataset would never take is ignored, not a bad file (which blocks everything under `fail`)."""
    elsewhere = tmp_path / "elsewhere"
    settle(datagen.write(elsewhere / "a.parquet", 10, seed=0))
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.txt").write_text("not data")
    workspace.dataset(exclude=["scratch/**"])
    workspace.land("train/good.parquet")
    os.symlink(elsewhere, workspace.landing / "scratch")  # excluded
    os.symlink(tmp_path / "notes", workspace.landing / "notes")  # nothing in it matches include
    with open(os.fsencode(workspace.landing / "train") + b"/lisez-moi-caf\xe9.txt", "w") as f:
        f.write("not data")  # include is **/*.parquet
    found = discover(workspace.config().datasets[0], workspace.landing, time.time())
    assert names(found.files) == ["train/good.parquet"] and found.rejected == []
    assert sorted(found.ignored) == ["notes/", "scratch/", "train/lisez-moi-caf\\xe9.txt"]
