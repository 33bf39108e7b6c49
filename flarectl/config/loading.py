"""Reading a federation file safely: a regular file of bounded size, strict UTF-8 (a BOM is
fine), YAML 1.2 without duplicate keys, with bounded nesting and a small alias budget (an alias
bomb is refused before it expands), and no text with control characters or longer than any
field needs. Problems are ConfigErrors naming the file (and the line, where there is one)."""

from __future__ import annotations

import os
import re
import stat
import unicodedata
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

from flarectl.config.errors import ConfigError

MAX_FILE_BYTES = 1024 * 1024
MAX_ALIASES = 100  # anchors are handy for shared site settings; a bomb needs thousands
MAX_TEXT = 4096  # the longest text a field needs is an SSH public key (RSA 4096: ~750)
MAX_NODES = 100_000  # values after aliases are expanded; a 100-site federation has ~3,000
MAX_DEPTH = 32  # a federation file nests 4 deep; Python's own recursion limit is far beyond this
# Unicode's control, format (bidirectional overrides, zero-width), surrogate, private-use and
# unassigned code points, and the line and paragraph separators: no field takes any of them.
REFUSED_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


class _Problem(Exception):
    def __init__(self, message: str, mark: Any):
        super().__init__(message)
        self.message = message
        self.mark = mark


class _Yaml12Resolver(BaseResolver):
    """The YAML 1.2 core schema (yaml.org/spec/1.2.2, 10.3.2), not PyYAML's YAML 1.1 one: `010002`
    is ten thousand and two (not octal), `0600` six hundred, `yes`/`no`/`on`/`off` and
    `2024-01-01` stay text, `1:30` is not sexagesimal. Merge keys (`<<: *defaults`) work."""

    yaml_implicit_resolvers: dict[Any, Any] = {}


for _tag, _pattern, _first in (
    ("tag:yaml.org,2002:null", r"~|null|Null|NULL|", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:bool", r"true|True|TRUE|false|False|FALSE", list("tTfF")),
    ("tag:yaml.org,2002:int", r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+", list("-+0123456789")),
    (
        "tag:yaml.org,2002:float",
        r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)",
        list("-+.0123456789"),
    ),
    ("tag:yaml.org,2002:merge", r"<<", ["<"]),
):
    _Yaml12Resolver.add_implicit_resolver(_tag, re.compile(rf"^(?:{_pattern})$", re.ASCII), _first)


class _Yaml12Constructor(SafeConstructor):
    """Plain data only: mappings, lists, text, whole numbers, decimals, booleans and null."""

    yaml_constructors: dict[Any, Any] = {}

    def construct_int(self, node: Any) -> int:
        text = self.construct_scalar(node)
        if text.startswith(("0o", "0x")):
            return int(text[2:], 8 if text[1] == "o" else 16)
        return int(text, 10)

    def construct_float(self, node: Any) -> float:
        text = self.construct_scalar(node).lower()
        return float(text.replace(".inf", "inf").replace(".nan", "nan"))

    def construct_unsupported(self, node: Any) -> Any:
        raise _Problem(f"the YAML tag {node.tag!r} is not supported here; write a plain value", node.start_mark)


_CONSTRUCTORS: tuple[tuple[str | None, Any], ...] = (
    ("tag:yaml.org,2002:null", SafeConstructor.construct_yaml_null),
    ("tag:yaml.org,2002:bool", SafeConstructor.construct_yaml_bool),
    ("tag:yaml.org,2002:int", _Yaml12Constructor.construct_int),
    ("tag:yaml.org,2002:float", _Yaml12Constructor.construct_float),
    ("tag:yaml.org,2002:str", SafeConstructor.construct_yaml_str),
    ("tag:yaml.org,2002:seq", SafeConstructor.construct_yaml_seq),
    ("tag:yaml.org,2002:map", SafeConstructor.construct_yaml_map),
    (None, _Yaml12Constructor.construct_unsupported),
)
for _constructed_tag, _method in _CONSTRUCTORS:
    _Yaml12Constructor.add_constructor(_constructed_tag, _method)


class _StrictLoader(Reader, Scanner, Parser, Composer, _Yaml12Constructor, _Yaml12Resolver):
    """A YAML 1.2 loader that bounds nesting, counts aliases and refuses duplicate keys."""

    def __init__(self, stream: str):
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        _Yaml12Constructor.__init__(self)
        _Yaml12Resolver.__init__(self)
        self.aliases = 0
        self.depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise _Problem(f"more than {MAX_ALIASES} YAML aliases (*name); write the values out", self.peek_event().start_mark)
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _Problem(f"values nested more than {MAX_DEPTH} deep; a federation file needs a handful", self.peek_event().start_mark)
        try:
            return Composer.compose_node(self, parent, index)
        finally:
            self.depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # merged keys may be overridden by the mapping's own
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise _Problem(f"the key {key!r} appears twice in one mapping; keep one", key_node.start_mark)
            try:
                seen.add(key)
            except TypeError:
                raise _Problem("a mapping key must be a plain value", key_node.start_mark) from None
        return super().construct_mapping(node, deep=deep)


def _expanded_size(node: Any, sizes: dict[int, int], entered: set[int]) -> int:
    """How many values `node` stands for once every alias is expanded (shared nodes counted
    once per use, computed once)."""
    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in entered:  # entered and not yet sized: the alias is inside the value it names
        raise _Problem("a YAML alias refers to the value that contains it; write the values out", node.start_mark)
    entered.add(key)
    children = (
        node.value
        if isinstance(node, yaml.SequenceNode)
        else [n for pair in node.value for n in pair]
        if isinstance(node, yaml.MappingNode)
        else []
    )
    size = 1
    for child in children:
        size += _expanded_size(child, sizes, entered)
        if size > MAX_NODES:
            raise _Problem(
                f"the YAML stands for more than {MAX_NODES} values once its aliases are expanded; write the values out", node.start_mark
            )
    sizes[key] = size
    return size


def _text_problem(text: str) -> str | None:
    if len(text) > MAX_TEXT:
        return f"{len(text)} characters is longer than any field needs (at most {MAX_TEXT})"
    for char in text:
        if unicodedata.category(char) in REFUSED_CATEGORIES:
            return f"has the character U+{ord(char):04X}, a line break or control character no field takes; write the value on one line, in plain text"
    return None


def _text_problems(value: Any, path: str = "") -> list[str]:
    """Every text value and key, wherever it is: too long, or with a character no field takes."""
    if isinstance(value, str):
        problem = _text_problem(value)
        return [f"{path or 'value'}: {problem}"] if problem else []
    if isinstance(value, dict):
        problems = []
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            key_problem = _text_problem(key) if isinstance(key, str) else None
            problems += [f"{path or 'top level'}: the key {key!r} {key_problem}"] if key_problem else _text_problems(item, where)
        return problems
    if isinstance(value, list):
        return [problem for index, item in enumerate(value) for problem in _text_problems(item, f"{path}[{index}]")]
    return []


def _read_regular_file(path: Path, label: str) -> bytes:
    """The file's bytes; a FIFO, a device or a folder is refused without reading from it."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError as error:
        raise ConfigError(
            [f"{_shown(path)}: cannot read the federation file ({error.strerror}); pass an existing file with -c config=PATH"]
        ) from None
    info = os.fstat(descriptor)
    if not stat.S_ISREG(info.st_mode):
        os.close(descriptor)
        raise ConfigError([f"{label}: not a regular file; pass the federation file itself (a .yaml file)"])
    with os.fdopen(descriptor, "rb") as handle:
        if info.st_size > MAX_FILE_BYTES:
            raise ConfigError([f"{label}: {info.st_size} bytes; a federation file is at most {MAX_FILE_BYTES} bytes (1 MiB)"])
        raw = handle.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        raise ConfigError([f"{label}: more than {MAX_FILE_BYTES} bytes; a federation file is at most 1 MiB"])
    return raw


def _shown(path: Path) -> str:
    """A path for a message: cut short, with anything unprintable escaped."""
    text = str(path)
    text = text if len(text) <= 200 else text[:100] + "..." + text[-60:]
    return text if text.isprintable() else repr(text)


def read_federation_file(path: Path) -> Any:
    """The parsed YAML of a federation file, or ConfigError with one line per problem."""
    label = path.name if path.name.isprintable() else repr(path.name)  # a name that opens is at most 255 bytes
    raw = _read_regular_file(path, label)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ConfigError(
            [f"{label}: byte {error.start} is not UTF-8 ({raw[error.start : error.start + 1]!r}); save the file as UTF-8"]
        ) from None
    # PyYAML reads NEL, LS and PS as line breaks (YAML 1.1) and folds them inside quoted text, so a
    # value would arrive changed; no field takes them anyway.
    stray = re.search("[\x85\u2028\u2029]", text)
    if stray:
        raise ConfigError(
            [f"{label}: line {text.count(chr(10), 0, stray.start()) + 1}: the character U+{ord(stray.group()):04X} (a Unicode line break) "
             "is not allowed; remove it"]
        )  # fmt: skip
    loader = None
    try:
        loader = _StrictLoader(text)
        node = loader.get_single_node()
        if node is not None:
            _expanded_size(node, {}, set())
        data = loader.construct_document(node) if node is not None else None
    except _Problem as problem:
        raise ConfigError([f"{label}: line {problem.mark.line + 1}: {problem.message}"]) from None
    except yaml.reader.ReaderError as error:
        line = text.count("\n", 0, error.position) + 1
        raise ConfigError(
            [f"{label}: line {line}: the character U+{error.character:04X} is not allowed in YAML; remove it (a stray control character?)"]
        ) from None
    except yaml.MarkedYAMLError as error:  # what PyYAML's scanner, parser, composer and constructor raise
        raise ConfigError([f"{label}: line {error.problem_mark.line + 1}: not valid YAML ({error.problem})"]) from None
    finally:
        if loader is not None:
            loader.dispose()
    problems = _text_problems(data)
    if problems:
        raise ConfigError([f"{label}: {problem}" for problem in problems])
    return data
