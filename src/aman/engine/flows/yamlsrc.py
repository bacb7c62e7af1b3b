"""Read YAML keeping line numbers: mappings and lists remember where they and their items start.

PyYAML's composer gives a node tree with ``start_mark``; this module turns it into
``YMap``/``YList`` (plain dict/list subclasses with ``line`` and per-key/per-item
lines) and scalars built by the safe constructor.  Duplicate keys, non-string keys
and alias bombs are reported as problems instead of being silently accepted.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from aman.engine.flows.errors import FlowLoadError, Problem

__all__ = ["MAX_FILE_BYTES", "YList", "YMap", "line_of", "load_yaml_file", "load_yaml_text"]

MAX_FILE_BYTES = 1_000_000
_MAX_NODES = 200_000

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")


class _FlowLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Safe loader with YAML 1.2 booleans: ``yes``, ``no``, ``on``, ``off`` stay strings
    (``on:`` keys and ``[ya, yes, no]`` synonym lists mean what they say)."""


_FlowLoader.yaml_implicit_resolvers = {
    first: [
        (tag, _BOOL if tag == "tag:yaml.org,2002:bool" else regexp) for tag, regexp in resolvers
    ]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}


class YMap(dict[str, Any]):
    """A YAML mapping; ``line`` is its first line, ``key_lines[key]`` each key's line."""

    line: int
    key_lines: dict[str, int]

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class YList(list[Any]):
    """A YAML sequence; ``line`` is its first line, ``item_lines[i]`` each item's line."""

    line: int
    item_lines: list[int]


def line_of(value: object, default: int = 0) -> int:
    """The line a YMap/YList starts on, else ``default``."""
    line = getattr(value, "line", None)
    return line if isinstance(line, int) else default


class _Builder:
    def __init__(self, loader: yaml.SafeLoader, file: str) -> None:
        self._loader = loader
        self._file = file
        self._count = 0
        self._open: set[int] = set()  # collections being built (alias cycle detection)
        self.problems: list[Problem] = []

    def build(self, node: yaml.Node) -> Any:
        self._count += 1
        if self._count > _MAX_NODES:
            raise FlowLoadError(
                [Problem(self._file, node.start_mark.line + 1, "", "yaml", "document too large")]
            )
        line = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            if id(node) in self._open:  # an alias inside its own anchor: &a [*a]
                raise FlowLoadError(
                    [Problem(self._file, line, "", "yaml", "an alias refers to itself")]
                )
            self._open.add(id(node))
            try:
                return self._collection(node, line)
            finally:
                self._open.discard(id(node))
        try:
            return self._loader.construct_object(node, deep=True)
        except (ValueError, TypeError, IndexError, OverflowError) as exc:
            # e.g. 2026-02-30, 0x_, !!int '': PyYAML raises plain Python errors for these.
            raise FlowLoadError(
                [Problem(self._file, line, "", "yaml", f"invalid value: {type(exc).__name__}")]
            ) from None

    def _collection(self, node: yaml.Node, line: int) -> Any:
        if isinstance(node, yaml.MappingNode):
            out = YMap()
            out.line = line
            out.key_lines = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    self.problems.append(
                        Problem(self._file, line, "", "yaml", "merge keys (<<) are not supported")
                    )
                    continue
                key = self.build(key_node)
                key_line = key_node.start_mark.line + 1
                if not isinstance(key, str):
                    self.problems.append(
                        Problem(self._file, key_line, "", "yaml", f"key {key!r} is not a string")
                    )
                    key = str(key)
                if key in out:
                    self.problems.append(
                        Problem(self._file, key_line, "", "yaml", f"duplicate key {key!r}")
                    )
                out[key] = self.build(value_node)
                out.key_lines[key] = key_line
            return out
        if isinstance(node, yaml.SequenceNode):
            seq = YList()
            seq.line = line
            seq.item_lines = []
            for item in node.value:
                seq.append(self.build(item))
                seq.item_lines.append(item.start_mark.line + 1)
            return seq
        raise TypeError(f"not a YAML collection: {type(node).__name__}")


def load_yaml_text(text: str, file: str) -> tuple[Any, list[Problem]]:
    """Parse one YAML document; returns the value and the problems found while building it.

    A syntax error raises FlowLoadError naming the line.
    """
    loader = _FlowLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, []
        builder = _Builder(loader, file)
        return builder.build(node), builder.problems
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        reason = exc.problem or exc.context or "invalid YAML"
        raise FlowLoadError([Problem(file, line, "", "yaml", str(reason))]) from exc
    except yaml.YAMLError as exc:
        raise FlowLoadError([Problem(file, 0, "", "yaml", str(exc))]) from exc
    finally:
        loader.dispose()


def load_yaml_file(path: Path, shown: str) -> tuple[Any, list[Problem]]:
    """Read and parse ``path`` (at most MAX_FILE_BYTES); ``shown`` is the name in problems."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise FlowLoadError(
                [Problem(shown, 0, "", "yaml", f"file larger than {MAX_FILE_BYTES} bytes")]
            )
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FlowLoadError([Problem(shown, 0, "", "io", f"cannot read: {exc}")]) from exc
    return load_yaml_text(text, shown)
