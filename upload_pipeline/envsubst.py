"""`${VAR}` and `${VAR:-default}` in the datasets file, resolved key by key so errors can name the key."""

from __future__ import annotations

import re
from typing import Any

# `$$` escapes a literal dollar sign, as in docker-compose files. Any other `$` (`$VAR`, `${VAR-x}`, a nested
# default) is a shell form this file does not resolve; left as text it would become a bucket prefix or a repo
# id, so it is an error. A default holds no `$` but `$$` and no `}`, so a nested `${A:-${B}}` is caught too.
_PATTERN = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>(?:[^$}]|\$\$)*))?\}|(?P<other>\$)")
_FORMS = "write ${VAR} or ${VAR:-default} ($$ for a literal $)"


class SubstitutionError(Exception):
    """A value's `$` cannot be resolved; the message names the key."""


class UnsetVariable(SubstitutionError):
    """A `${VAR}` without default names a variable that is not set (or is set to the empty string)."""


class UnknownForm(SubstitutionError):
    """A `$` that is neither `$$`, `${VAR}` nor `${VAR:-default}`."""


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
    """One pass over `text`: a variable's value is never scanned again, so it may hold a `$`."""
    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        if match.group("other"):
            raise UnknownForm(f"{key}: `{_form_at(text, match.start())}` is not a form this file understands: "
                              f"{_FORMS}")
        name, default = match.group("name"), match.group("default")
        value = variables.get(name)
        if value not in (None, ""):
            return value
        if default is not None:
            return default.replace("$$", "$")
        # Empty counts as unset, as for ${VAR:-default}; the message says which of the two it was.
        state = "is set but empty" if value == "" else "is not set"
        raise UnsetVariable(f"{key}: environment variable {name} {state} and has no default "
                            f"(set it, add it to .env, or write ${{{name}:-default}})")

    return _PATTERN.sub(substitute, text)


def _form_at(text: str, start: int) -> str:
    """The `$...` written at `start`: `$NAME`, or `${...}` up to its matching brace (or the end)."""
    if not text.startswith("${", start):
        return "$" + re.sub(r"\W.*", "", text[start + 1:], flags=re.S)
    depth = 0
    for end in range(start + 1, len(text)):
        depth += {"{": 1, "}": -1}.get(text[end], 0)
        if depth == 0:
            return text[start:end + 1]
    return text[start:]
