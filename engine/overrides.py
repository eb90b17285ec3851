"""`--set section.key=value`: a config value changed from the command line, checked like the file itself.

The value is read as YAML (`0.20` a number, `true` a boolean, `[1, 2]` a list, anything else a string), so
it takes the type the file would give it; the key must exist, so a typo is an error naming it, not a
silently ignored setting.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml

from engine.errors import ConfigError


def parse_set(text: str) -> tuple[list[str], Any]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {text!r}: expected section.key=value")
    try:
        parsed = yaml.safe_load(value) if value.strip() else ""
    except yaml.YAMLError:
        parsed = value
    return key.strip().split("."), parsed


def apply_sets(raw: dict[str, Any], sets: list[str]) -> dict[str, Any]:
    """A copy of the raw config with each `--set` applied; an unknown key is a ConfigError that names it."""
    out = copy.deepcopy(raw)
    for text in sets:
        path, value = parse_set(text)
        node: Any = out
        for i, part in enumerate(path[:-1]):
            if not isinstance(node, dict) or not isinstance(node.get(part), dict):
                raise ConfigError(f"--set {text}: {'.'.join(path[: i + 1])} is not a config section")
            node = node[part]
        if not isinstance(node, dict) or path[-1] not in node:
            raise ConfigError(f"--set {text}: no key {'.'.join(path)} in the config")
        node[path[-1]] = value
    return out
