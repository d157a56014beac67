"""Protocol schema version 2: fields, outcomes, covariates, analyses, validated on load.

Each kind of error names the file, the line and the field. The protocol here is a small
review of infections after surgery, unrelated to the worked example.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from review.errors import OptionError, ProtocolError
from review.protocol import (
    PROTOCOL_SCHEMA,
    SCHEMA_VERSION,
    load_protocol,
    protocol_from_mapping,
)

BASE: dict[str, Any] = {
    "schema_version": 2,
    "title": "Surgical-site infection after hip replacement",
    "question": "What proportion of patients develop a surgical-site infection?",
    "eligibility": {"include": ["Primary hip replacement"], "exclude": ["Revisions"]},
    "exclusion_reasons": [{"code": "wrong_population", "label": "Not primary THA"}],
    "databases": [{"name": "PubMed", "query": "hip AND infection"}],
    "extraction": {"folder": "extraction"},
    "fields": [
        {"code": "n_operated", "label": "Patients operated", "type": "count"},
        {"code": "n_ssi", "label": "Patients with an SSI", "type": "count"},
        {"code": "n_deep", "label": "Patients with a deep SSI", "type": "count"},
        {"code": "episodes", "label": "SSI episodes", "type": "count"},
        {"code": "fu_months", "label": "Median follow-up", "type": "number", "unit": "months"},
        {
            "code": "person_years",
            "label": "Person-years",
            "type": "person_time",
            "unit": "person-years",
            "derived": {
                "rule": "count_times_duration",
                "count": "n_operated",
                "duration": "fu_months",
                "label": "N x median follow-up",
            },
        },
    ],
    "outcomes": [
        {
            "code": "ssi",
            "label": "Surgical-site infection",
            "kind": "proportion",
            "events": "n_ssi",
            "counts": "patients",
            "denominator": "n_operated",
            "primary": True,
        },
        {
            "code": "deep",
            "label": "Deep SSI",
            "kind": "proportion",
            "events": "n_deep",
            "counts": "patients",
            "denominator": "n_operated",
            "subtype_of": "ssi",
        },
        {
            "code": "ssi_rate",
            "label": "SSI episodes per person-time",
            "kind": "rate",
            "events": "episodes",
            "counts": "events",
            "time": "person_years",
        },
    ],
    "covariates": [
        {
            "code": "design",
            "label": "Design",
            "type": "categorical",
            "required": True,
            "values": [{"code": "rct", "label": "Trial arm"}, "cohort"],
        },
        {"code": "approach", "label": "Approach", "type": "text"},
        {"code": "year", "label": "Year", "type": "integer", "minimum": 1950},
        {"code": "high_rob", "label": "High risk of bias", "type": "boolean"},
    ],
    "analyses": [
        {
            "code": "ssi_main",
            "label": "SSI (GLMM)",
            "outcome": "ssi",
            "model": {"measure": "PLO", "method": "GLMM"},
            "subgroups": ["design"],
            "moderators": ["fu_months", ["year", "design"]],
            "sensitivity": {
                "leave_one_out": True,
                "methods": True,
                "funnel": "peters",
                "exclude_sets": [
                    {
                        "code": "low_rob",
                        "label": "Without high risk of bias",
                        "where": {"column": "high_rob", "in": [True]},
                    }
                ],
            },
            "display": {"title": "SSI within a year", "sort": "estimate"},
        },
        {
            "code": "ssi_est",
            "label": "SSI with estimates",
            "outcome": "ssi",
            "model": {"measure": "PLO", "method": "REML", "test": "knha"},
            "estimates": "include",
        },
        {
            "code": "rate",
            "label": "SSI per 100 person-years",
            "outcome": "ssi_rate",
            "model": {"measure": "IRLN", "method": "REML"},
            "display": {"scale": "per100py"},
        },
    ],
}


def _load(tmp_path: Path, mutate: Callable[[dict[str, Any]], None] | None = None):
    data = copy.deepcopy(BASE)
    if mutate is not None:
        mutate(data)
    path = tmp_path / "protocol.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return load_protocol(path), path


def _error(tmp_path: Path, mutate: Callable[[dict[str, Any]], None]) -> tuple[ProtocolError, Path]:
    with pytest.raises(ProtocolError) as info:
        _load(tmp_path, mutate)
    return info.value, tmp_path / "protocol.yaml"


def test_version_2_is_the_schema_this_module_writes() -> None:
    assert SCHEMA_VERSION == 2
    assert PROTOCOL_SCHEMA["properties"]["schema_version"] == {"const": 2}


def test_a_full_version_2_protocol_loads(tmp_path: Path) -> None:
    p, _ = _load(tmp_path)
    assert p.schema_version == 2
    assert list(p.fields) == [
        "n_operated",
        "n_ssi",
        "n_deep",
        "episodes",
        "fu_months",
        "person_years",
    ]
    pt = p.fields["person_years"]
    assert pt.type == "person_time" and pt.unit == "person-years"
    assert pt.derived is not None and pt.derived.label == "N x median follow-up"
    assert p.outcome("deep").subtype_of == "ssi"
    assert p.outcome("ssi_rate").counts == "events" and p.outcome("ssi_rate").time == "person_years"
    assert dict(p.covariates["design"].values) == {"rct": "Trial arm", "cohort": "cohort"}
    a = p.analyses["ssi_main"]
    assert (a.model.measure, a.model.method, a.model.test, a.model.pi_method, a.model.level) == (
        "PLO",
        "GLMM",
        "z",
        "metafor",
        0.95,
    )
    assert a.moderators == (("fu_months",), ("year", "design"))
    assert a.sensitivity.exclude_sets[0].values == ("true",)  # as written in a CSV cell
    assert a.title == "SSI within a year" and p.analyses["rate"].title == "SSI per 100 person-years"
    assert p.analyses["ssi_est"].estimates == "include"
    assert p.study_columns()[:5] == ("study_id", "label", "pmid", "report_pmids", "note")
    with pytest.raises(OptionError, match="ssi_rate"):
        p.outcome("nope")
    assert "ssi_main" in p.summary() and "ssi_main" in p._repr_html_()


def _set(path: list[Any], value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(d: dict[str, Any]) -> None:
        node: Any = d
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value

    return mutate


def _drop(path: list[Any]) -> Callable[[dict[str, Any]], None]:
    def mutate(d: dict[str, Any]) -> None:
        node: Any = d
        for part in path[:-1]:
            node = node[part]
        del node[path[-1]]

    return mutate


# (mutation, expected column, words in the message)
CASES = [
    # schema: types, enums, closed blocks
    (_set(["fields", 1, "type"], "integer"), "fields[1].type", "is not one of"),
    (_set(["outcomes", 0, "counts"], "people"), "outcomes[0].counts", "is not one of"),
    (_set(["analyses", 0, "model", "level"], 95), "analyses[0].model.level", "maximum"),
    (_set(["analyses", 0, "sensitivity", "loo"], True), "analyses[0].sensitivity", "loo"),
    (_drop(["outcomes", 0, "events"]), "outcomes[0].events", "required"),
    (_set(["covariates", 0, "type"], "factor"), "covariates[0].type", "is not one of"),
    # duplicate codes
    (_set(["fields", 1, "code"], "n_operated"), "fields[1].code", "listed twice"),
    (_set(["analyses", 1, "code"], "ssi_main"), "analyses[1].code", "listed twice"),
    # fields
    (_drop(["fields", 5, "unit"]), "fields[5].type", "needs a unit"),
    (_set(["fields", 5, "unit"], "years"), "fields[5].unit", "needs a unit"),
    (_set(["fields", 0, "minimum"], 0), "fields[0].minimum", "for fields of type number"),
    (
        _set(["fields", 5, "derived", "duration"], "n_ssi"),
        "fields[5].derived.duration",
        "time unit",
    ),
    (
        _set(["fields", 5, "derived", "count"], "fu_months"),
        "fields[5].derived.count",
        "count field",
    ),
    (_set(["fields", 0, "code"], "design"), "fields[0].code", "also a column"),
    # outcomes
    (_set(["outcomes", 0, "events"], "fu_months"), "outcomes[0].events", "not a declared count"),
    (_set(["outcomes", 0, "denominator"], "nope"), "outcomes[0].denominator", "not a declared"),
    (_drop(["outcomes", 0, "denominator"]), "outcomes[0].kind", "needs its denominator"),
    (_set(["outcomes", 0, "counts"], "events"), "outcomes[0].counts", "pool events as a rate"),
    (_set(["outcomes", 2, "time"], "fu_months"), "outcomes[2].time", "person_time"),
    (
        _set(["outcomes", 2, "denominator"], "n_operated"),
        "outcomes[2].denominator",
        "not a denominator",
    ),
    (_set(["outcomes", 1, "subtype_of"], "nope"), "outcomes[1].subtype_of", "not another"),
    (_set(["outcomes", 1, "subtype_of"], "deep"), "outcomes[1].subtype_of", "not another"),
    (
        _set(["outcomes", 1, "subtype_of"], "ssi_rate"),
        "outcomes[1].subtype_of",
        "cannot be a subtype",
    ),
    # covariates
    (_drop(["covariates", 0, "values"]), "covariates[0].type", "needs its allowed values"),
    (_set(["covariates", 1, "values"], ["a"]), "covariates[1].values", "for categorical"),
    (_set(["covariates", 0, "code"], "pmid"), "covariates[0].code", "reserved column"),
    (_set(["covariates", 0, "values"], [True, "no"]), "covariates[0].values[0]", "boolean"),
    (_set(["covariates", 1, "maximum"], 3), "covariates[1].maximum", "number and integer"),
    # analyses: vocabulary from review.meta._vocab
    (_set(["analyses", 0, "outcome"], "nope"), "analyses[0].outcome", "not declared"),
    (
        _set(["analyses", 0, "model", "measure"], "IRLN"),
        "analyses[0].model.measure",
        "for a proportion",
    ),
    (
        _set(["analyses", 0, "model", "measure"], "plo"),
        "analyses[0].model.measure",
        "Invalid measure",
    ),
    (_set(["analyses", 0, "model", "method"], "dl"), "analyses[0].model.method", "Invalid method"),
    (_set(["analyses", 0, "model", "test"], "hksj"), "analyses[0].model.test", "Invalid test"),
    (
        _set(["analyses", 0, "model", "pi_method"], "hts"),
        "analyses[0].model.pi_method",
        "pi_method",
    ),
    (_set(["analyses", 0, "model", "measure"], "PFT"), "analyses[0].model.measure", "'GLMM'"),
    (
        _set(["analyses", 0, "estimates"], "include"),
        "analyses[0].estimates",
        "the GLMM needs counts",
    ),
    (
        _set(["analyses", 1, "model", "measure"], "PFT"),
        "analyses[1].estimates",
        "cannot use PFT",
    ),
    (
        _set(["analyses", 0, "subgroups"], ["fu_months"]),
        "analyses[0].subgroups[0]",
        "not a declared covariate",
    ),
    (
        _set(["analyses", 0, "moderators"], ["approach"]),
        "analyses[0].moderators[0]",
        "other than text",
    ),
    (
        _set(["analyses", 0, "sensitivity", "exclude_sets", 0, "where", "column"], "nope"),
        "analyses[0].sensitivity.exclude_sets[0].where.column",
        "not a column of studies.csv",
    ),
    (
        _set(
            ["analyses", 0, "sensitivity", "exclude_sets", 0, "where"],
            {"column": "design", "in": ["rtc"]},
        ),
        "analyses[0].sensitivity.exclude_sets[0].where.in[0]",
        "not a value of covariate",
    ),
    (
        _set(["analyses", 0, "display", "scale"], "per100py"),
        "analyses[0].display.scale",
        "for a proportion",
    ),
    (
        _set(["analyses", 2, "display", "xscale"], "logit"),
        "analyses[2].display.xscale",
        "for proportions",
    ),
    (_set(["analyses", 0, "display", "sort"], "size"), "analyses[0].display.sort", "Invalid sort"),
    (_set(["extraction", "folder"], "data"), "extraction.folder", "write folder: extraction"),
    (
        _set(
            ["comparisons"],
            [
                {
                    "code": "c",
                    "label": "C",
                    "file": "x.csv",
                    "quantity": "q",
                    "analyses": ["nope"],
                    "published_label": "P",
                }
            ],
        ),
        "comparisons[0].analyses[0]",
        "not declared",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "column", "words"), CASES, ids=[c[1] + ":" + c[2] for c in CASES]
)
def test_each_error_names_file_line_and_field(
    tmp_path: Path, mutate, column: str, words: str
) -> None:
    err, path = _error(tmp_path, mutate)
    assert err.path == str(path)
    assert err.column == column, str(err)
    assert words in str(err), str(err)
    # the line points into the block of the field named
    assert isinstance(err.row, int) and err.row >= 1
    top = column.split(".")[0].split("[")[0]
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next(i for i, ln in enumerate(lines, 1) if ln.startswith(f"{top}:"))
    assert err.row >= start, (err.row, start)


def test_line_of_a_nested_field_is_its_own_line(tmp_path: Path) -> None:
    err, path = _error(tmp_path, _set(["analyses", 1, "model", "method"], "XX"))
    line = path.read_text(encoding="utf-8").splitlines()[err.row - 1]
    assert "XX" in line


def test_version_1_still_loads_and_declares_nothing_to_extract() -> None:
    minimal = Path(__file__).parent / "data" / "protocol_minimal.yaml"
    p = load_protocol(minimal)
    assert p.schema_version == 1
    assert not p.fields and not p.analyses and not p.covariates
    assert p.outcomes[0].kind is None


def test_version_2_needs_structured_outcomes(tmp_path: Path) -> None:
    err, _ = _error(tmp_path, _set(["outcomes"], ["any infection"]))
    assert err.column == "outcomes[0]"


def test_unknown_schema_version_says_which_are_read(tmp_path: Path) -> None:
    err, _ = _error(tmp_path, _set(["schema_version"], 7))
    assert err.column == "schema_version" and "[1, 2]" in str(err)


def test_blocks_are_optional_for_a_protocol_written_before_extraction() -> None:
    data = {
        k: v for k, v in BASE.items() if k not in ("fields", "outcomes", "covariates", "analyses")
    }
    p = protocol_from_mapping(copy.deepcopy(data))
    assert p.schema_version == 2 and not p.analyses and p.outcomes == ()


def test_worked_example_protocol_is_version_2() -> None:
    from review.paths import example_review_dir

    p = load_protocol(example_review_dir() / "protocol.yaml")
    assert p.schema_version == 2
    primary = [o for o in p.outcomes if o.primary]
    assert len(primary) == 1
    assert all(a.outcome in {o.code for o in p.outcomes} for a in p.analyses.values())


def test_the_commented_template_in_design_md_loads() -> None:
    """The template a new reviewer copies from docs/DESIGN.md is a valid protocol."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "DESIGN.md").read_text(encoding="utf-8")
    section = text.split("### A commented template", 1)[1]
    block = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    p = protocol_from_mapping(yaml.safe_load(block))
    assert p.schema_version == 2
    assert set(p.analyses) == {"ssi_main", "ssi_with_estimates", "ssi_rate"}
    assert p.outcome("ssi_rate").counts == "events"
    assert p.fields["person_years"].derived is not None
