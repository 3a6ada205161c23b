"""A configuration file's text as a YAML mapping: the settings and kubeconfig readers' one parser.

One of the two core modules that read YAML (with `yaml_images`); it does no I/O (the text comes
in as a string), and its errors are one line, worded by the caller.
"""

from __future__ import annotations

from typing import Any

import yaml

from tagwatch.core.yaml_errors import YamlProblem
from tagwatch.errors import ConfigError

__all__ = ["yaml_mapping"]


def yaml_mapping(text: str, *, not_yaml: str, too_deep: str, not_mapping: str) -> dict[Any, Any]:
    """`text` parsed as a YAML mapping (empty: `{}`), else a one-line ConfigError.

    `not_yaml` starts the message for a parse error (the line and the reason follow it);
    `too_deep` is the message for nesting past Python's recursion limit, `not_mapping` for a
    document that is not a mapping.
    """
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:  # one line: where and what, not PyYAML's multi-line report
        raise ConfigError(f"{not_yaml}{YamlProblem.of(exc)}") from exc
    except RecursionError:
        raise ConfigError(too_deep) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(not_mapping)
    return data
