"""Hostile protocol files (issue 15): a valid Protocol, or a ProtocolError naming the file and
the line; never a raw YAML, jsonschema or recursion error, never a silent replacement.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from review.errors import OptionError, ProtocolError
from review.protocol import MAX_DEPTH, RESERVED_REVIEWERS, load_protocol
from review.screening import CONSENSUS, ScreeningLog, agreement

from conftest import REPO

MINIMAL = REPO / "tests" / "data" / "protocol_minimal.yaml"
BASE = MINIMAL.read_text(encoding="utf-8")
HYP = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _write(tmp: Path, data: str | bytes, name: str = "protocol.yaml") -> Path:
    p = tmp / name
    p.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return p


def _line_of(text: str, needle: str, nth: int = 1) -> int:
    seen = 0
    for i, line in enumerate(text.splitlines(), 1):
        if needle in line:
            seen += 1
            if seen == nth:
                return i
    raise AssertionError(needle)


# -- the kinds ---------------------------------------------------------------------


def test_duplicate_top_level_key_is_refused_naming_both_lines(tmp_path: Path) -> None:
    text = BASE + "\ntitle: A second title that would silently win\n"
    p = _write(tmp_path, text)
    with pytest.raises(ProtocolError, match=r"'title' appears twice.*first on line (\d+)") as e:
        load_protocol(p)
    assert e.value.row == _line_of(text, "title:", 2)
    assert f"first on line {_line_of(text, 'title:')}" in str(e.value)


def test_duplicate_nested_key_is_refused(tmp_path: Path) -> None:
    text = BASE.replace("  reviewers: [A, B]", "  reviewers: [A, B]\n  reviewers: [C]")
    assert text != BASE
    with pytest.raises(ProtocolError, match="'reviewers' appears twice") as e:
        load_protocol(_write(tmp_path, text))
    assert e.value.row == _line_of(text, "reviewers: [C]")


def test_merge_keys_may_still_be_overridden(tmp_path: Path) -> None:
    text = BASE + "\nbase: &b {x: 1, y: 2}\nderived:\n  <<: *b\n  y: 3\n"
    p = load_protocol(_write(tmp_path, text))
    assert p.extra["derived"] == {"x": 1, "y": 3}


@pytest.mark.parametrize("name", ["consensus", "Consensus", " CONSENSUS "])
def test_reviewer_named_consensus_is_refused(tmp_path: Path, name: str) -> None:
    text = BASE.replace("reviewers: [A, B]", f"reviewers: [A, '{name}']")
    with pytest.raises(ProtocolError, match="reserved") as e:
        load_protocol(_write(tmp_path, text))
    assert e.value.column == "screening.reviewers[1]"
    assert e.value.row == _line_of(text, "reviewers:")
    assert CONSENSUS in RESERVED_REVIEWERS  # the protocol reserves what screening uses


@pytest.mark.parametrize(
    "text",
    ["", "\n\n", "# only a comment\n", "---\n", "\ufeff", "~\n", "null\n"],
    ids=["empty", "newlines", "comment", "document-marker", "bom", "tilde", "null"],
)
def test_empty_protocol_says_so(tmp_path: Path, text: str) -> None:
    with pytest.raises(ProtocolError, match="empty") as e:
        load_protocol(_write(tmp_path, text))
    assert "None is not of type" not in str(e.value)


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", "42\n", "[1, 2]\n"])
def test_protocol_that_is_not_a_mapping(tmp_path: Path, text: str) -> None:
    with pytest.raises(ProtocolError, match="must be a mapping"):
        load_protocol(_write(tmp_path, text))


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 200, 5000])
def test_deep_nesting_is_an_error_with_its_line_not_a_recursion_error(
    tmp_path: Path, depth: int
) -> None:
    flow = BASE + "\ndeep: " + "[" * depth + "]" * depth + "\n"
    with pytest.raises(ProtocolError, match="nested more than") as e:
        load_protocol(_write(tmp_path, flow))
    assert e.value.row == _line_of(flow, "deep:")
    block = BASE + "\n" + "".join(" " * i + f"k{i}:\n" for i in range(min(depth, 400)))
    with pytest.raises(ProtocolError, match="nested more than"):
        load_protocol(_write(tmp_path, block, "block.yaml"))


def test_alias_bomb_is_refused(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    with pytest.raises(ProtocolError, match="anchors and aliases"):
        load_protocol(_write(tmp_path, BASE + "\n" + "\n".join(lines) + "\n"))


def test_unclosed_quote_is_blamed_on_its_line_not_the_end_of_the_file(tmp_path: Path) -> None:
    # issue 15: a YAML error on line 4 was reported at line 80
    text = 'schema_version: 1\ntitle: t\nquestion: q\npopulation: "never closed\n'
    text += "".join(f"key{i}: value\n" for i in range(76))
    with pytest.raises(ProtocolError, match="not valid YAML") as e:
        load_protocol(_write(tmp_path, text))
    assert e.value.row == 4
    assert "line 4" in str(e.value) and "line 81" in str(e.value)


def test_unclosed_flow_sequence_is_blamed_on_its_line(tmp_path: Path) -> None:
    text = "schema_version: 1\ntitle: [unclosed\n" + "".join(f"k{i}: v\n" for i in range(40))
    with pytest.raises(ProtocolError, match="not valid YAML") as e:
        load_protocol(_write(tmp_path, text))
    assert e.value.row == 2


def test_error_in_the_middle_keeps_its_own_line(tmp_path: Path) -> None:
    text = "schema_version: 1\ntitle: t\n\tquestion: q\n" + "a: b\n" * 30
    with pytest.raises(ProtocolError) as e:
        load_protocol(_write(tmp_path, text))
    assert e.value.row == 3


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (BASE.encode("utf-16"), None),  # a byte-order mark: read as the text it is
        (BASE.encode("utf-8-sig"), None),
        (BASE.replace("Second", "S\u00e9cond").encode("latin-1"), "not valid utf-8"),
        (b"schema_version: 1\x00\n", "NUL"),
        (BASE.replace("\n", "\r\n").encode(), None),
        (BASE.replace("\n", "\r").encode(), None),
    ],
    ids=["utf16-bom", "utf8-bom", "latin1", "nul", "crlf", "cr"],
)
def test_encodings_and_line_ends(tmp_path: Path, data: bytes, match: str | None) -> None:
    p = _write(tmp_path, data)
    if match is None:
        assert load_protocol(p).title == load_protocol(MINIMAL).title
    else:
        with pytest.raises(ProtocolError, match=match) as e:
            load_protocol(p)
        assert e.value.path == str(p)


def test_paths_that_are_not_files(tmp_path: Path) -> None:
    os.symlink(tmp_path / "l2", tmp_path / "l1")
    os.symlink(tmp_path / "l1", tmp_path / "l2")
    for path, match in (
        (tmp_path, "folder"),
        (tmp_path / "absent.yaml", "not found"),
        (tmp_path / "l1", "loop"),
    ):
        with pytest.raises(ProtocolError, match=match) as e:
            load_protocol(path)
        assert e.value.path == str(path)


# -- generated files: a Protocol or a ProtocolError, nothing else ---------------------------

YAML_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20)
)
YAML_VALUES = st.recursive(
    YAML_SCALARS,
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4)
    ),
    max_leaves=20,
)


@HYP
@given(st.dictionaries(st.text(max_size=12), YAML_VALUES, max_size=8))
def test_generated_mappings_give_a_protocol_or_a_protocol_error(tmp_path_factory, data) -> None:
    p = _write(tmp_path_factory.mktemp("p"), yaml.safe_dump(data, allow_unicode=True))
    try:
        load_protocol(p)
    except ProtocolError as e:
        assert e.path == str(p)


@HYP
@given(st.text(max_size=200))
def test_generated_text_gives_a_protocol_or_a_protocol_error(tmp_path_factory, text) -> None:
    p = _write(tmp_path_factory.mktemp("p"), text.encode("utf-8", "surrogatepass"))
    try:
        load_protocol(p)
    except ProtocolError as e:
        assert e.path == str(p)


@HYP
@given(st.integers(min_value=0, max_value=len(BASE)), st.integers(min_value=1, max_value=40))
def test_damaged_real_protocol_gives_a_protocol_or_an_error_with_a_line(
    tmp_path_factory, at, n
) -> None:
    text = BASE[:at] + BASE[at + n :]  # a slice cut out anywhere
    p = _write(tmp_path_factory.mktemp("p"), text)
    try:
        load_protocol(p)
    except ProtocolError as e:
        assert e.path == str(p)
        if e.row is not None:
            assert 1 <= e.row <= max(1, text.count("\n") + 1)


# -- agreement: a misspelt reviewer is an error, not NaN ------------------------------------


@pytest.fixture
def log(tmp_path: Path) -> ScreeningLog:
    lg = ScreeningLog(tmp_path / "log.jsonl")
    for rid, a, b in [("r1", "include", "include"), ("r2", "exclude", "include")]:
        lg.record(rid, reviewer="A", decision=a)
        lg.record(rid, reviewer="B", decision=b)
    return lg


def test_agreement_for_a_misspelt_reviewer_is_an_error(log: ScreeningLog) -> None:
    assert not math.isnan(agreement(log, reviewers=("A", "B")).observed)
    with pytest.raises(OptionError, match=r"Invalid reviewer 'b'.*did you mean 'B'"):
        agreement(log, reviewers=("A", "b"))
    with pytest.raises(OptionError, match="consensus"):
        agreement(log, reviewers=("A", CONSENSUS))


def test_agreement_on_an_empty_log_names_the_problem(tmp_path: Path) -> None:
    with pytest.raises(OptionError, match="no decision yet"):
        agreement(ScreeningLog(tmp_path / "empty.jsonl"), reviewers=("A", "B"))


def test_agreement_accepts_a_protocol_reviewer_who_has_not_screened_yet(tmp_path: Path) -> None:
    lg = ScreeningLog(tmp_path / "log.jsonl", protocol=load_protocol(MINIMAL))
    lg.record("r1", reviewer="A", decision="include")
    res = agreement(lg, reviewers=("A", "B"))
    assert res.n_both == 0 and any("no record was screened by both" in n for n in res.notes)
