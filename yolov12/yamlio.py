"""Reading YAML strictly: a duplicate key is an error (PyYAML silently keeps the last one), and every error names the
file and the line. Every YAML file the suite reads (configs, studies, definitions, data.yaml) goes through here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import UserError


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a mapping key given twice."""

    source = "<yaml>"


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if key in seen:
            raise UserError(f"key {key!r} appears twice (lines {seen[key]} and {line}); each key may appear once",
                            file=f"{loader.source}:{line}", key=str(key))
        seen[key] = line
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def loads(text: str, source: str = "<yaml>") -> Any:
    """Parse YAML text strictly; errors name ``source`` and the line."""
    loader = _StrictLoader(text)
    loader.source = source
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"{source}:{mark.line + 1}" if mark else source
        raise UserError(f"not valid YAML: {e.problem or e.context}", file=where) from None
    except yaml.YAMLError as e:
        raise UserError(f"not valid YAML: {e}", file=source) from None
    finally:
        loader.dispose()


def load_yaml(path: str | Path, what: str = "YAML file") -> Any:
    """Read and parse a YAML file strictly; a missing or unreadable file is a one-line error naming ``what``."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise UserError(f"{what} not found", file=path) from None
    except IsADirectoryError:
        raise UserError(f"{what} is a directory, expected a file", file=path) from None
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"{what} cannot be read: {e}", file=path) from None
    return loads(text, str(path))
