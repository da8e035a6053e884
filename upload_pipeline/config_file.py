"""Reading the datasets file: which file, `${VAR}` resolution, YAML, and one-line errors naming file and key."""

from __future__ import annotations

import os
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from upload_pipeline.config import ConfigError, PipelineConfig
from upload_pipeline.envsubst import SubstitutionError, resolve_tree

CONFIG_ENV = "UPLOAD_PIPELINE_CONFIG"
DEFAULT_CONFIG = "upload_pipeline.yaml"


def config_path(environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    return Path(env.get(CONFIG_ENV) or DEFAULT_CONFIG)


def load_config(path: Path | str | None = None, environ: dict[str, str] | None = None) -> PipelineConfig:
    """Read, resolve and validate the datasets file.

    Args:
        path: the file; default `$UPLOAD_PIPELINE_CONFIG`, else `upload_pipeline.yaml` in the current folder.
        environ: variables for `${VAR}`; default the process environment, over `.env` next to the file, over
            `.env` in the current folder.

    Raises:
        ConfigError: with the file, the key and the reason.
    """
    path = Path(path) if path is not None else config_path(environ)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the datasets file ({exc.strerror}); "
                          f"set {CONFIG_ENV} or create {DEFAULT_CONFIG}") from None
    except UnicodeDecodeError as exc:
        line = exc.object[:exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at line {line}); "
                          f"save the file as UTF-8") from None
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {_yaml_reason(exc)}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping with a 'datasets' list")
    try:
        resolved = resolve_tree(raw, _variables(path, environ))
    except SubstitutionError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    try:
        return PipelineConfig.model_validate({**resolved, "source": str(path), "base_dir": "."})
    except ValidationError as exc:
        raise ConfigError(f"{path}: {_first_error(exc)}") from None


def _variables(path: Path, environ: dict[str, str] | None) -> dict[str, str]:
    if environ is not None:
        return environ
    from dotenv import dotenv_values

    variables: dict[str, str] = {}
    # Later layers win: the current folder's .env, the .env next to the config (the README's), the process
    # environment (as with Dagster's own .env handling); one file that is both is read once. A value set to ""
    # counts as unset (README), so it does not hide a layer below it.
    layers = [dotenv_values(candidate) for candidate in dict.fromkeys(
        p.resolve() for p in (Path(".env"), path.parent / ".env")) if candidate.is_file()] + [os.environ]
    for layer in layers:
        variables.update({k: v for k, v in layer.items() if v})
    return variables


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors()
    err = errors[0]
    key = _key_path(err["loc"])
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        message = "unknown key"
    if not key:
        return message + more
    return f"{key}: {message}{more}"


def _key_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif str(part).startswith("function-") or "[" in str(part):
            continue  # pydantic's validator/union labels are not keys of the file
        else:
            out += f".{part}" if out else str(part)
    return out


def _yaml_reason(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark else problem


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys silently; a datasets file with one is a mistake.

    Merge keys (`<<: *base`) share settings between datasets; a key written next to one overrides the merged
    value, as YAML says, so only the keys written in the mapping itself are checked for duplicates.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        written = [key_node for key_node, _ in node.value if key_node.tag != "tag:yaml.org,2002:merge"]
        self.flatten_mapping(node)
        seen: set[Any] = set()
        for key_node in written:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):  # `? [a, b]`: a TypeError below; refused as YAML instead
                raise yaml.constructor.ConstructorError(None, None, f"a mapping key must be a plain value, not a "
                                                        f"{type(key).__name__}", key_node.start_mark)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)
