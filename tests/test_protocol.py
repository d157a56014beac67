"""review.protocol: load_protocol validates and errors name file, line and field."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from review.errors import InputError, OptionError, ProtocolError
from review.protocol import NOT_RETRIEVED, Protocol, load_protocol, protocol_from_mapping

MINIMAL = Path(__file__).parent / "data" / "protocol_minimal.yaml"


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "protocol.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def _mutated(tmp_path: Path, mutate) -> Path:
    data = yaml.safe_load(MINIMAL.read_text(encoding="utf-8"))
    mutate(data)
    return _write(tmp_path, yaml.safe_dump(data, sort_keys=False))


def test_minimal_protocol_loads():
    p = load_protocol(MINIMAL)
    assert isinstance(p, Protocol)
    assert p.schema_version == 1
    assert p.path == MINIMAL
    assert list(p.exclusion_reasons)[:4] == [
        "wrong_population",
        "wrong_outcome",
        "wrong_design",
        "duplicate_cohort",
    ]
    assert p.exclusion_reasons["wrong_design"] == "Case report, review or editorial"
    assert p.reviewers == ("A", "B")
    assert p.databases[0].name == "PubMed"
    assert p.databases[0].snapshot == "pubmed_test"
    assert p.databases[0].kind == "database"
    assert "murine" in p.highlight_exclude
    assert p.eligibility_exclude == ("Case reports, reviews, editorials", "Preclinical studies")


def test_not_retrieved_is_always_known():
    p = load_protocol(MINIMAL)
    assert NOT_RETRIEVED in p.exclusion_reasons
    assert p.is_reason("not_retrieved")
    assert not p.is_reason("made_up")


def test_not_retrieved_label_from_file_is_kept(tmp_path):
    path = _mutated(
        tmp_path,
        lambda d: d["exclusion_reasons"].insert(0, {"code": "not_retrieved", "label": "No PDF"}),
    )
    p = load_protocol(path)
    assert p.exclusion_reasons["not_retrieved"] == "No PDF"
    assert next(iter(p.exclusion_reasons)) == "not_retrieved"


def test_protocol_is_frozen():
    p = load_protocol(MINIMAL)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.title = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        p.exclusion_reasons["new"] = "x"  # type: ignore[index]


def test_reason_label_unknown_code_lists_valid_ones():
    p = load_protocol(MINIMAL)
    assert p.reason_label("wrong_outcome") == "No second primary malignancy reported"
    with pytest.raises(OptionError, match="wrong_population"):
        p.reason_label("nope")


def test_missing_file(tmp_path):
    with pytest.raises(ProtocolError, match="not found") as ei:
        load_protocol(tmp_path / "absent.yaml")
    assert ei.value.path == str(tmp_path / "absent.yaml")


def test_invalid_yaml_names_line(tmp_path):
    path = _write(tmp_path, "schema_version: 1\ntitle: [unclosed\nquestion: q\n")
    with pytest.raises(ProtocolError, match="not valid YAML") as ei:
        load_protocol(path)
    assert ei.value.path == str(path)
    assert isinstance(ei.value.row, int)


def test_missing_required_field_is_named(tmp_path):
    path = _mutated(tmp_path, lambda d: d.pop("question"))
    with pytest.raises(ProtocolError) as ei:
        load_protocol(path)
    assert ei.value.column == "question"
    assert str(path) in str(ei.value)
    assert isinstance(ei.value, InputError)


def test_bad_reason_code_names_field_and_line(tmp_path):
    def bad(d):
        d["exclusion_reasons"][2]["code"] = "Wrong Design"

    path = _mutated(tmp_path, bad)
    with pytest.raises(ProtocolError) as ei:
        load_protocol(path)
    assert ei.value.column == "exclusion_reasons[2].code"
    lines = path.read_text().splitlines()
    assert "Wrong Design" in lines[ei.value.row - 1]


def test_duplicate_reason_code(tmp_path):
    def dup(d):
        d["exclusion_reasons"][1]["code"] = "wrong_population"

    path = _mutated(tmp_path, dup)
    with pytest.raises(ProtocolError, match="listed twice") as ei:
        load_protocol(path)
    assert ei.value.column == "exclusion_reasons[1].code"


def test_wrong_schema_version(tmp_path):
    path = _mutated(tmp_path, lambda d: d.update(schema_version=3))
    with pytest.raises(ProtocolError) as ei:
        load_protocol(path)
    assert ei.value.column == "schema_version"
    assert ei.value.row == 1 + next(
        i for i, ln in enumerate(path.read_text().splitlines()) if ln.startswith("schema_version")
    )


def test_typo_inside_screening_block_is_caught(tmp_path):
    path = _mutated(tmp_path, lambda d: d["screening"].update(reviewer=["A"]))
    with pytest.raises(ProtocolError, match="reviewer") as ei:
        load_protocol(path)
    assert ei.value.column == "screening"


def test_extra_top_level_and_database_keys_are_kept(tmp_path):
    def add(d):
        d["registration"] = "PROSPERO CRD000"
        d["databases"][0]["date_of_search"] = "2026-11-01"

    p = load_protocol(_mutated(tmp_path, add))
    assert p.extra["registration"] == "PROSPERO CRD000"
    assert p.databases[0].extra["date_of_search"] == "2026-11-01"


def test_protocol_from_mapping_without_file():
    data = yaml.safe_load(MINIMAL.read_text(encoding="utf-8"))
    p = protocol_from_mapping(data)
    assert p.path is None
    assert "Databases:" in p.summary()
    with pytest.raises(ProtocolError):
        protocol_from_mapping({"schema_version": 1})


def test_real_protocol_if_present():
    real = Path(__file__).resolve().parent.parent / "data" / "protocol.yaml"
    if not real.exists():
        pytest.skip("data/protocol.yaml not written yet (worked-example helper)")
    p = load_protocol(real)
    assert p.is_reason(NOT_RETRIEVED)
    assert len(p.exclusion_reasons) >= 2


def test_outcomes_as_strings_or_objects(tmp_path):
    p = load_protocol(MINIMAL)
    assert p.outcomes[0].label == "second primary malignancy (any)"
    assert p.outcomes[0].code is None

    def objs(d):
        d["outcomes"] = [{"code": "spm_any", "label": "Any SPM", "primary": True}, "T-cell"]

    q = load_protocol(_mutated(tmp_path, objs))
    assert q.outcomes[0].code == "spm_any" and q.outcomes[0].primary
    assert q.outcomes[1].label == "T-cell" and not q.outcomes[1].primary


def test_screening_stages(tmp_path):
    assert load_protocol(MINIMAL).stages == ("title_abstract", "full_text")
    p = load_protocol(_mutated(tmp_path, lambda d: d["screening"].update(stages=["full_text"])))
    assert p.stages == ("full_text",)
    with pytest.raises(ProtocolError) as ei:
        load_protocol(_mutated(tmp_path, lambda d: d["screening"].update(stages=["abstract"])))
    assert ei.value.column == "screening.stages[0]"


def test_protocol_html_shows_reasons_and_queries():
    out = load_protocol(MINIMAL)._repr_html_()
    assert "<code>wrong_design</code>" in out and "<code>not_retrieved</code>" in out
    assert "&quot;chimeric antigen receptor&quot;" in out


# --------------------------------------------------------------------------- amendments
def _amend(*items):
    def add(d):
        d["amendments"] = list(items)

    return add


_A1 = {"date": "2026-01-02", "section": "eligibility", "change": "Worded.", "reason": "Ambiguous."}


def test_amendments_are_kept_in_order_and_shown(tmp_path):
    second = {**_A1, "date": "2026-02-01", "section": "outcomes.main", "reason": "Data."}
    p = load_protocol(_mutated(tmp_path, _amend(_A1, second)))
    assert [a.date for a in p.amendments] == ["2026-01-02", "2026-02-01"]
    assert p.amendments[1].section == "outcomes.main"
    assert "amendments" not in p.extra
    assert "2026-02-01 [outcomes.main] Worded. Reason: Data." in p.summary()
    assert "Ambiguous." in p._repr_html_()


def test_no_amendments_is_an_empty_history():
    assert load_protocol(MINIMAL).amendments == ()


@pytest.mark.parametrize(
    ("items", "column", "message"),
    [
        ([{**_A1, "date": "2026-02-30"}], "amendments[0].date", "not a calendar date"),
        ([{**_A1, "date": "2.1.2026"}], "amendments[0].date", "does not match"),
        ([_A1, {**_A1, "date": "2025-12-31"}], "amendments[1].date", "oldest first"),
        ([{k: v for k, v in _A1.items() if k != "reason"}], "amendments[0].reason", "reason"),
        ([{**_A1, "who": "A"}], "amendments[0]", "who"),
    ],
)
def test_bad_amendment_names_its_field_and_line(tmp_path, items, column, message):
    with pytest.raises(ProtocolError) as ei:
        load_protocol(_mutated(tmp_path, _amend(*items)))
    assert ei.value.column == column
    assert ei.value.row is not None
    assert message in str(ei.value)


def test_reading_a_protocol_does_not_build_the_iri_grammar() -> None:
    # jsonschema imports rfc3987_syntax (2.6 s of grammar compiling) when it is installed;
    # review._jsonschema hides it while jsonschema loads, and a later import still works
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from review.protocol import load_protocol\n"
        "from review.paths import example_review_dir\n"
        "load_protocol(example_review_dir() / 'protocol.yaml')\n"
        "assert 'rfc3987_syntax' not in sys.modules, 'grammar built'\n"
        "import importlib.util\n"
        "if importlib.util.find_spec('rfc3987_syntax') is not None:\n"
        "    import rfc3987_syntax\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
