"""Reading a federation file safely: a size limit, strict UTF-8 (a BOM is fine), YAML without
duplicate keys and with a small alias budget (an alias bomb is refused before it expands),
and no text value longer than any field needs. Problems are ConfigErrors naming the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import ConstructorError
from yaml.events import AliasEvent

from flarectl.config.errors import ConfigError

MAX_FILE_BYTES = 1024 * 1024
MAX_ALIASES = 100  # anchors are handy for shared site settings; a bomb needs thousands
MAX_TEXT = 4096  # the longest text a field needs is an SSH public key (RSA 4096: ~750)
MAX_NODES = 100_000  # values after aliases are expanded; a 100-site federation has ~3,000


class _Problem(Exception):
    def __init__(self, message: str, mark: Any = None):
        super().__init__(message)
        self.message = message
        self.mark = mark


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that counts aliases and refuses duplicate keys."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self.aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise _Problem(f"more than {MAX_ALIASES} YAML aliases (*name); write the values out", self.peek_event().start_mark)
        return Composer.compose_node(self, parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise _Problem(f"the key {key!r} appears twice in one mapping; keep one", key_node.start_mark)
            try:
                seen.add(key)
            except TypeError:
                raise ConstructorError(None, None, "a mapping key must be a plain value", key_node.start_mark) from None
        return super().construct_mapping(node, deep=deep)


def _expanded_size(node: Any, sizes: dict[int, int], open_nodes: set[int]) -> int:
    """How many values `node` stands for once every alias is expanded (shared nodes counted
    once per use, computed once)."""
    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in open_nodes:
        raise _Problem("a YAML alias refers to the value that contains it; write the values out", node.start_mark)
    open_nodes.add(key)
    children = (
        node.value
        if isinstance(node, yaml.SequenceNode)
        else [n for pair in node.value for n in pair]
        if isinstance(node, yaml.MappingNode)
        else []
    )
    size = 1
    for child in children:
        size += _expanded_size(child, sizes, open_nodes)
        if size > MAX_NODES:
            raise _Problem(
                f"the YAML stands for more than {MAX_NODES} values once its aliases are expanded; write the values out", node.start_mark
            )
    open_nodes.discard(key)
    sizes[key] = size
    return size


def _long_text(value: Any, path: str = "") -> list[str]:
    if isinstance(value, str):
        return (
            [f"{path or 'value'}: {len(value)} characters is longer than any field needs (at most {MAX_TEXT})"]
            if len(value) > MAX_TEXT
            else []
        )
    if isinstance(value, dict):
        return [problem for key, item in value.items() for problem in _long_text(item, f"{path}.{key}" if path else str(key))]
    if isinstance(value, list):
        return [problem for index, item in enumerate(value) for problem in _long_text(item, f"{path}[{index}]")]
    return []


def read_federation_file(path: Path) -> Any:
    """The parsed YAML of a federation file, or ConfigError with one line per problem."""
    label = path.name
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ConfigError([f"{label}: {size} bytes; a federation file is at most {MAX_FILE_BYTES} bytes (1 MiB)"])
        raw = path.read_bytes()
    except OSError as error:
        raise ConfigError(
            [f"{path}: cannot read the federation file ({error.strerror}); pass an existing file with -c config=PATH"]
        ) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ConfigError(
            [f"{label}: byte {error.start} is not UTF-8 ({raw[error.start : error.start + 1]!r}); save the file as UTF-8"]
        ) from None
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _expanded_size(node, {}, set())
        data = loader.construct_document(node) if node is not None else None
    except _Problem as problem:
        where = f" line {problem.mark.line + 1}" if problem.mark else ""
        raise ConfigError([f"{label}:{where}: {problem.message}"]) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError([f"{label}:{where}: not valid YAML ({getattr(error, 'problem', error)})"]) from None
    finally:
        loader.dispose()
    problems = _long_text(data)
    if problems:
        raise ConfigError([f"{label}: {problem}" for problem in problems])
    return data
