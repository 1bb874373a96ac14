"""Read the registry's YAML files (the only PyYAML import in the project)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

__all__ = ["REGISTRY_FILES", "load_files", "parse_text"]

#: Files read, in order; shapes may be referenced across files. Then ``peers/*.yaml``: one
#: REST API each (sorted by name).
REGISTRY_FILES = ("shapes.yaml", "web.yaml", "datacloud.yaml")
PEERS_DIR = "peers"


class _UniqueKeyLoader(yaml.SafeLoader):  # type: ignore[misc]
    """A SafeLoader that refuses duplicate keys instead of silently keeping the last."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor` merges, not a key
            continue
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    mapping: dict[Any, Any] = loader.construct_mapping(node)
    return mapping


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


def load_files(root: Path) -> dict[str, Any]:
    """``{file name: parsed YAML}`` for each registry file present under ``root``."""
    out: dict[str, Any] = {}
    peers = sorted(f"{PEERS_DIR}/{p.name}" for p in (root / PEERS_DIR).glob("*.yaml"))
    for name in (*REGISTRY_FILES, *peers):
        path = root / name
        if path.exists():
            with path.open(encoding="utf-8") as f:
                out[name] = yaml.load(f, Loader=_UniqueKeyLoader) or {}
    return out


def parse_text(text: str) -> Any:
    """One registry file's YAML text, parsed like :func:`load_files` parses a file."""
    return yaml.load(text, Loader=_UniqueKeyLoader) or {}
