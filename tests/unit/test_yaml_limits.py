"""The federation file loader's limits at their exact boundaries, each written out here: the
alias budget (100), the nesting depth (32), the values an aliased file stands for (100,000),
the file size (1 MiB), and how a path or file name is shown in a message (issue 34)."""

from __future__ import annotations

from pathlib import Path

import pytest

from flarectl.config.errors import ConfigError
from flarectl.config.loading import read_federation_file


def refusal(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        read_federation_file(path)
    return caught.value.problems


def written(tmp_path: Path, text: str | bytes, name: str = "federation.yaml") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def aliases(count: int) -> str:
    return "base: &base 1\nuses:\n" + "".join("  - *base\n" for _ in range(count))


def test_one_hundred_aliases_are_taken_and_the_hundred_and_first_is_refused_where_it_is(tmp_path: Path) -> None:
    assert read_federation_file(written(tmp_path, aliases(100)))["uses"] == [1] * 100
    assert refusal(written(tmp_path, aliases(101))) == [
        "federation.yaml: line 103: more than 100 YAML aliases (*name); write the values out"
    ]


def nested(depth: int, after: str = "") -> str:
    """`deep:` holding `depth - 1` nested lists, beside a first item that returns before them."""
    return "deep: [0, " + "[" * (depth - 2) + "]" * (depth - 2) + "]\n" + after


def test_values_nested_32_deep_are_taken_and_33_refused_even_after_a_sibling(tmp_path: Path) -> None:
    """The root mapping is level 1, `deep`'s list level 2; the sibling `0` is entered and left
    first, so a count that does not come back down after it is caught here."""
    assert read_federation_file(written(tmp_path, nested(32)))["deep"][0] == 0
    assert refusal(written(tmp_path, nested(33))) == [
        "federation.yaml: line 1: values nested more than 32 deep; a federation file needs a handful"
    ]


def standing_for(total: int) -> str:
    """A list whose values, aliases expanded, number exactly `total`: a list of 88 zeros (89),
    ten of it (891), ten of that (8,911), ten of that (89,111), plus the outer list itself and
    its loose zeros: 1 + 89 + 891 + 8,911 + 89,111 = 99,003, then one per zero more."""
    zeros = ", ".join(["0"] * 88)
    return f"- &a [{zeros}]\n- &b [{', '.join(['*a'] * 10)}]\n- &c [{', '.join(['*b'] * 10)}]\n- [{', '.join(['*c'] * 10)}]\n" + "- 0\n" * (
        total - 99_003
    )


def test_a_file_standing_for_100000_values_is_taken_and_one_more_is_refused(tmp_path: Path) -> None:
    assert len(read_federation_file(written(tmp_path, standing_for(100_000)))) == 4 + 997
    assert refusal(written(tmp_path, standing_for(100_001))) == [
        "federation.yaml: line 1: the YAML stands for more than 100000 values once its aliases are expanded; write the values out"
    ]


def test_a_file_of_exactly_1_mib_is_read_to_its_last_byte_and_one_byte_more_is_refused(tmp_path: Path) -> None:
    tail = b"last: 12345"  # no line break: a read one byte short would make it 1234
    padding = b"# padding\n" * ((1024 * 1024 - len(tail)) // 10)
    exact = padding + b"#" * (1024 * 1024 - len(padding) - len(tail) - 1) + b"\n" + tail
    assert len(exact) == 1024 * 1024
    assert read_federation_file(written(tmp_path, exact)) == {"last": 12345}
    assert refusal(written(tmp_path, exact + b"6")) == [
        "federation.yaml: 1048577 bytes; a federation file is at most 1048576 bytes (1 MiB)"
    ]


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("a" * 195 + ".yaml", "a" * 195 + ".yaml"),  # 200 characters: whole
        ("a" * 196 + ".yaml", "a" * 100 + "..." + "a" * 55 + ".yaml"),  # 201: the first 100 and the last 60
        ("fed\x1b[2Jeration.yaml", "'fed\\x1b[2Jeration.yaml'"),  # a terminal escape, escaped
    ],
)
def test_a_missing_file_is_named_cut_short_and_escaped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, shown: str) -> None:
    monkeypatch.chdir(tmp_path)  # relative, so the shown path is the name as typed
    assert refusal(Path(name)) == [
        f"{shown}: cannot read the federation file (No such file or directory); pass an existing file with -c config=PATH"
    ]


def test_a_file_name_with_a_control_character_is_escaped_in_every_message(tmp_path: Path) -> None:
    assert refusal(written(tmp_path, "a: 1\na: 2\n", "fed\x07.yaml")) == [
        "'fed\\x07.yaml': line 2: the key 'a' appears twice in one mapping; keep one"
    ]
    (tmp_path / "pipe\x07.yaml").mkdir()
    assert refusal(tmp_path / "pipe\x07.yaml") == ["'pipe\\x07.yaml': not a regular file; pass the federation file itself (a .yaml file)"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("\n\nname: a\x85b\n", "line 3: the character U+0085 (a Unicode line break) is not allowed; remove it"),
        ("\n\nname: a\x01b\n", "line 3: the character U+0001 is not allowed in YAML; remove it (a stray control character?)"),
        ("\n\nname: [a\n", "line 4: not valid YAML (expected ',' or ']', but got '<stream end>')"),
        ("\n\nname: !!python/object:os.system x\n", "line 3: the YAML tag 'tag:yaml.org,2002:python/object:os.system' is not supported here; write a plain value"),
    ],
)  # fmt: skip
def test_a_problem_is_placed_on_its_line_counting_the_blank_lines_before_it(tmp_path: Path, text: str, problem: str) -> None:
    assert refusal(written(tmp_path, text)) == [f"federation.yaml: {problem}"]
