"""The dataset card (README.md): generated metadata merged into whatever card already exists.

Only what this pipeline generates changes on an update: this config's entry in `configs` and in `dataset_info`,
the card fields set in the datasets file, and the section of the body between this config's markers. Prose a
person wrote, other configs and other metadata keys stay as they are (huggingface_hub#3043, lerobot#849).
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from typing import Any

import pyarrow as pa
from huggingface_hub import DatasetCard, DatasetCardData

from upload_pipeline.config import DatasetConfig
from upload_pipeline.staging import Shard, split_glob

# A README with no metadata block yet (a person wrote it, or the repo's first) is usual here, and huggingface_hub
# warns about it each time it is parsed: several times per publish, in every run's log, for nothing to fix.
logging.getLogger("huggingface_hub.repocard").addFilter(
    lambda record: not record.getMessage().startswith("Repo card metadata block was not found"))

_CARD_FIELDS = ("license", "pretty_name", "tags", "task_categories", "language")
_TEMPLATE = "# {{ title }}\n\n{{ description }}\n\n{{ section }}\n"


def begin_marker(config_name: str) -> str:
    return f"<!-- upload_pipeline:begin config={config_name} -->"


def end_marker(config_name: str) -> str:
    return f"<!-- upload_pipeline:end config={config_name} -->"


def config_entry(ds: DatasetConfig, shards: list[Shard]) -> dict[str, Any]:
    """This config's `configs` entry: one `data_files` glob per split that has shards."""
    splits = [s for s in ds.splits if any(sh.split == s for sh in shards)]
    entry: dict[str, Any] = {"config_name": ds.config_name,
                             "data_files": [{"split": s, "path": split_glob(ds, s)} for s in splits]}
    if ds.config_name == "default":
        entry["default"] = True
    return entry


def info_entry(ds: DatasetConfig, shards: list[Shard], schema: pa.Schema) -> dict[str, Any]:
    """This config's `dataset_info`, in the exact YAML form `datasets` writes and reads."""
    # Imported here: `datasets` takes about a second to import and only the card step needs it.
    from datasets import DatasetInfo, Features
    from datasets.splits import SplitDict, SplitInfo

    splits = SplitDict()
    for split in ds.splits:
        mine = [s for s in shards if s.split == split]
        if mine:
            splits.add(SplitInfo(name=split, num_bytes=sum(s.arrow_bytes for s in mine),
                                 num_examples=sum(s.rows for s in mine)))
    info = DatasetInfo(features=Features.from_arrow_schema(schema), splits=splits,
                       download_size=sum(s.size for s in shards),
                       dataset_size=sum(s.arrow_bytes for s in shards))
    return {"config_name": ds.config_name, **info._to_yaml_dict()}


def features_problem(schema: pa.Schema) -> str | None:
    """Why the card's `features` cannot describe `schema` (a type `datasets` has no feature for, such as a map),
    naming the innermost such column, or None. Asked of a landed file before anything is staged: once its rows
    are in append-only shards, every card step would fail and the dataset could never be published again."""
    # Imported here, as in `info_entry`: only a schema not seen before in this run needs it.
    from datasets import Features

    def children(typ: pa.DataType, path: str) -> list[tuple[pa.DataType, str]]:
        if pa.types.is_struct(typ):
            return [(f.type, f"{path}.{f.name}") for f in typ.fields]
        if pa.types.is_list(typ) or pa.types.is_large_list(typ) or pa.types.is_fixed_size_list(typ):
            return [(typ.value_type, f"{path}[]")]
        return []

    def twice(typ: pa.DataType, path: str) -> str | None:
        # A struct's features are a dict: `datasets` keeps the last of two fields of one name and drops the other's
        # values without a word.
        names = Counter(f.name for f in typ.fields) if pa.types.is_struct(typ) else Counter()
        if dup := [name for name, n in names.items() if n > 1]:
            return f"column {path!r} has the field name(s) {', '.join(dup)} more than once"
        return next(filter(None, (twice(t, p) for t, p in children(typ, path))), None)

    def problem(typ: pa.DataType, path: str) -> str | None:
        try:
            Features.from_arrow_schema(pa.schema([("c", typ)]))
            return None
        except Exception:  # noqa: BLE001 - whatever `datasets` raises here, the card step would raise too
            pass
        inner = next(filter(None, (problem(t, p) for t, p in children(typ, path))), None)
        return inner or f"column {path!r} is {typ}, which a dataset card's features (datasets) cannot describe"

    return next(filter(None, (twice(f.type, f.name) or problem(f.type, f.name) for f in schema)), None)


def body_section(ds: DatasetConfig, shards: list[Shard], schema: pa.Schema) -> str:
    rows = ["| column | type |", "|---|---|"] + [f"| `{f.name}` | `{f.type}` |" for f in schema]
    counts = ["| split | rows | shards | parquet bytes |", "|---|---:|---:|---:|"]
    for split in ds.splits:
        mine = [s for s in shards if s.split == split]
        if mine:
            counts.append(f"| {split} | {sum(s.rows for s in mine)} | {len(mine)} | {sum(s.size for s in mine)} |")
    return "\n".join([
        begin_marker(ds.config_name),
        f"## Config `{ds.config_name}`", "",
        "### Schema", "", *rows, "",
        "### Splits", "", *counts, "",
        "Generated by upload_pipeline; edits between these markers are replaced on the next publish.",
        end_marker(ds.config_name),
    ])


def render_card(ds: DatasetConfig, shards: list[Shard], schema: pa.Schema, existing: str | None) -> str:
    """Return the card text: a new card, or `existing` with only the generated parts replaced."""
    card = DatasetCard.from_template(
        DatasetCardData(), template_str=_TEMPLATE, title=ds.card.pretty_name or ds.name,
        description=ds.card.description or f"Dataset `{ds.name}`, published by upload_pipeline.",
        section=body_section(ds, shards, schema))
    merge_metadata(card.data, ds, config_entry(ds, shards), info_entry(ds, shards, schema))
    return merge_card(existing, str(card), ds)


def merge_card(base: str | None, generated: str, ds: DatasetConfig) -> str:
    """Carry this config's generated parts of `generated` into `base` (the card as it is now, maybe remote)."""
    if not base or not base.strip():
        return generated
    config, info = generated_metadata(generated, ds.config_name)
    card = DatasetCard(base, ignore_metadata_errors=True)
    section = _section_re(ds.config_name).search(generated)
    if section:
        card.text = _replace_section(card.text, ds.config_name, section.group(0))
    merge_metadata(card.data, ds, config, info)
    return str(card)


def merge_metadata(data: DatasetCardData, ds: DatasetConfig, config: dict[str, Any], info: dict[str, Any]) -> None:
    """Put this config's entries into `data`, keeping every other config's."""
    for name in _CARD_FIELDS:
        value = getattr(ds.card, name)
        if value:
            data[name] = value
    configs = [c for c in (data.get("configs") or []) if c.get("config_name", "default") != ds.config_name]
    if config.get("default"):
        # Two configs marked default make `datasets` refuse the repo (datasets#7585).
        configs = [{k: v for k, v in c.items() if k != "default"} for c in configs]
    data["configs"] = sorted([*configs, config], key=lambda c: c.get("config_name", "default"))
    infos = data.get("dataset_info") or []
    infos = [infos] if isinstance(infos, dict) else list(infos)
    infos = [i for i in infos if i.get("config_name", "default") != ds.config_name] + [info]
    infos.sort(key=lambda i: i.get("config_name", "default"))
    data["dataset_info"] = infos[0] if len(infos) == 1 else infos


def generated_metadata(card_text: str, config_name: str) -> tuple[Any, Any]:
    """This config's (`configs` entry, `dataset_info` entry) in a card, to compare two cards."""
    data = DatasetCard(card_text, ignore_metadata_errors=True).data
    configs = [c for c in (data.get("configs") or []) if c.get("config_name", "default") == config_name]
    infos = data.get("dataset_info") or []
    infos = [infos] if isinstance(infos, dict) else infos
    mine = [i for i in infos if i.get("config_name", "default") == config_name]
    return (configs[0] if configs else None), (mine[0] if mine else None)


def config_splits(card_text: str) -> dict[str, set[str]]:
    """config name → the split names of its `data_files`, for every config of a card (a plain glob or list of
    globs is the one split `train`, as `datasets` reads it)."""
    found: dict[str, set[str]] = {}
    for entry in DatasetCard(card_text, ignore_metadata_errors=True).data.get("configs") or []:
        files = entry.get("data_files")
        splits = {f.get("split", "train") for f in files if isinstance(f, dict)} if isinstance(files, list) \
            else {"train"} if files else set()
        found.setdefault(entry.get("config_name", "default"), set()).update(splits)
    return found


def _section_re(config_name: str) -> re.Pattern[str]:
    """A begin…end span of this config with no other begin marker inside: from a begin marker whose end marker a
    person deleted, a match would run on to the next section's end and take their prose in between with it."""
    begin = re.escape(begin_marker(config_name))
    return re.compile(begin + f"(?:(?!{begin}).)*?" + re.escape(end_marker(config_name)), re.DOTALL)


def _drop_orphan_markers(text: str, config_name: str) -> str:
    """Remove this config's begin markers that no end marker closes (the text after them is a person's and
    stays), so that the section put back later cannot be matched from one of them."""
    pattern = _section_re(config_name)
    sections = [m.span() for m in pattern.finditer(text)]
    orphan = re.compile(re.escape(begin_marker(config_name)) + r"[ \t]*\n?")
    kept, pos = [], 0
    for m in orphan.finditer(text):
        if not any(start <= m.start() < end for start, end in sections):
            kept.append(text[pos:m.start()])
            pos = m.end()
    return "".join(kept) + text[pos:]


def _replace_section(text: str, config_name: str, section: str) -> str:
    text = _drop_orphan_markers(text, config_name)
    pattern = _section_re(config_name)
    if pattern.search(text):
        return pattern.sub(lambda _: section, text, count=1)
    return text.rstrip("\n") + "\n\n" + section + "\n"


def _drop_split_rows(text: str, config_name: str, split: str) -> str:
    """This config's body section without the table rows of `split` (rows whose first cell is the split name)."""
    row = re.compile(r"^\|\s*" + re.escape(split) + r"\s*\|.*\n?", re.MULTILINE)
    return _section_re(config_name).sub(lambda m: row.sub("", m.group(0)), text)


def remove_from_card(text: str, config_name: str, split: str | None = None) -> str:
    """The card without a config (its `configs` and `dataset_info` entries and its body section), or without
    one split of it. Sizes that can no longer be known from the card alone (`download_size`) are dropped."""
    card = DatasetCard(text, ignore_metadata_errors=True)
    data = card.data
    configs = list(data.get("configs") or [])
    infos = data.get("dataset_info") or []
    infos = [infos] if isinstance(infos, dict) else list(infos)
    is_ours = lambda entry: entry.get("config_name", "default") == config_name  # noqa: E731
    if split is not None:
        for c in filter(is_ours, configs):
            files = c.get("data_files")
            if isinstance(files, list):
                c["data_files"] = [f for f in files if not (isinstance(f, dict) and f.get("split") == split)]
        for i in filter(is_ours, infos):
            i["splits"] = [s for s in i.get("splits") or [] if s.get("name") != split]
            i["dataset_size"] = sum(s.get("num_bytes", 0) for s in i["splits"])
            i.pop("download_size", None)
        card.text = _drop_split_rows(card.text, config_name, split)
        # A config left without data files is no config: `datasets` fails on one (even more so on the default
        # one, which `load_dataset(repo)` picks), so it goes as a whole-config delete would take it.
        if not any(c.get("data_files") for c in filter(is_ours, configs)):
            split = None
    if split is None:
        configs = [c for c in configs if not is_ours(c)]
        infos = [i for i in infos if not is_ours(i)]
        card.text = _drop_orphan_markers(_section_re(config_name).sub("", card.text), config_name)
    for key, value in (("configs", configs), ("dataset_info", infos)):
        if not value:
            data.pop(key, None)
        else:
            data[key] = value[0] if key == "dataset_info" and len(value) == 1 else value
    return str(card)
