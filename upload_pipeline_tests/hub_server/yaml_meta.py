"""README YAML front matter: parsing (for `cardData`) and validation (for `/api/validate-yaml`, §3.11).

The checks are the ones that break `datasets.load_dataset` when wrong, not the Hub's full schema: the block must
be a mapping, and each `configs` entry needs a `config_name` and well-formed `data_files`.
"""

from __future__ import annotations

import yaml


def front_matter(text: str) -> str | None:
    """The YAML between the leading `---` lines, or None when the README has no metadata block."""
    lines = text.lstrip("\ufeff").splitlines()
    if not lines or lines[0].strip() != "---":
        return None
    for index, line in enumerate(lines[1:], start=1):
        if line.strip() == "---":
            return "\n".join(lines[1:index])
    return None


def card_data(text: str) -> dict | None:
    """Parsed metadata for repo info, or None if absent or invalid (the Hub omits it then)."""
    block = front_matter(text)
    if block is None:
        return None
    try:
        data = yaml.safe_load(block)
    except yaml.YAMLError:
        return None
    return data if isinstance(data, dict) else None


def validate(text: str, repo_type: str) -> list[str]:
    """Error messages for a README's metadata; empty when valid (or when there is no metadata block)."""
    block = front_matter(text)
    if block is None:
        return []
    try:
        data = yaml.safe_load(block)
    except yaml.YAMLError as err:
        return [f"Invalid YAML in README.md metadata: {err}"]
    if data is None:
        return []
    if not isinstance(data, dict):
        return ["README.md metadata must be a YAML mapping"]
    errors = []
    for key in ("license", "language", "tags", "task_categories"):
        if key in data and not _is_str_or_str_list(data[key]):
            errors.append(f'"{key}" must be a string or a list of strings')
    if repo_type == "dataset":
        errors += _config_errors(data.get("configs"))
        errors += _dataset_info_errors(data.get("dataset_info"))
    return errors


def _config_errors(configs) -> list[str]:
    if configs is None:
        return []
    if not isinstance(configs, list):
        return ['"configs" must be a list']
    errors, names = [], set()
    for index, config in enumerate(configs):
        if not isinstance(config, dict):
            errors.append(f"configs[{index}] must be a mapping")
            continue
        name = config.get("config_name")
        if not isinstance(name, str) or not name:
            errors.append(f"configs[{index}] is missing config_name")
        elif name in names:
            errors.append(f'configs[{index}]: duplicate config_name "{name}"')
        names.add(name)
        if "data_files" not in config:
            errors.append(f"configs[{index}] is missing data_files")
        elif not _valid_data_files(config["data_files"]):
            errors.append(f"configs[{index}].data_files must be a path, a list of paths or a list of {{split, path}}")
    if sum(1 for config in configs if isinstance(config, dict) and config.get("default") is True) > 1:
        errors.append("Only one config can be the default")
    return errors


def _valid_data_files(data_files) -> bool:
    if _is_str_or_str_list(data_files):
        return True
    return isinstance(data_files, list) and all(
        isinstance(item, dict) and isinstance(item.get("split"), str) and _is_str_or_str_list(item.get("path"))
        for item in data_files
    )


def _dataset_info_errors(info) -> list[str]:
    if info is None or isinstance(info, dict):
        return []
    if isinstance(info, list) and all(
        isinstance(item, dict) and isinstance(item.get("config_name"), str) for item in info
    ):
        return []
    return ['"dataset_info" must be a mapping, or a list of mappings that each have a config_name']


def _is_str_or_str_list(value) -> bool:
    return isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))
