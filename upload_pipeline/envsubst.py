"""`${VAR}` and `${VAR:-default}` in the datasets file, resolved key by key so errors can name the key."""

from __future__ import annotations

import re
from typing import Any

# `$$` escapes a literal dollar sign, as in docker-compose files.
_PATTERN = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")


class UnsetVariable(Exception):
    """A `${VAR}` without default names a variable that is not set."""


def resolve_tree(node: Any, variables: dict[str, str], key: str = "") -> Any:
    """Return `node` with every string's `${...}` replaced; `key` is the path used in error messages."""
    if isinstance(node, dict):
        return {k: resolve_tree(v, variables, f"{key}.{k}" if key else str(k)) for k, v in node.items()}
    if isinstance(node, list):
        return [resolve_tree(v, variables, f"{key}[{i}]") for i, v in enumerate(node)]
    if isinstance(node, str):
        return resolve_string(node, variables, key)
    return node


def resolve_string(text: str, variables: dict[str, str], key: str = "") -> str:
    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, default = match.group("name"), match.group("default")
        value = variables.get(name)
        if value not in (None, ""):
            return value
        if default is not None:
            return default
        raise UnsetVariable(f"{key}: environment variable {name} is not set and has no default "
                            f"(set it, add it to .env, or write ${{{name}:-default}})")

    return _PATTERN.sub(substitute, text)
