"""De-duplication: exact, fuzzy, the distinct-DOI guard, overrides, PRISMA counts."""

from __future__ import annotations

import math
import threading
from pathlib import Path

import pandas as pd
import pytest

from review.dedup import (
    OVERRIDE_COLUMNS,
    DedupResult,
    add_override,
    deduplicate,
    load_overrides,
    normalise_title,
)
from review.errors import CSVImportError, InputError, OptionError
from review.records import combine_records, read_csv_export, read_ris

IMPORTS = Path(__file__).parent / "data" / "imports"
TITLE = "Second primary malignancies after CAR T-cell therapy in a synthetic cohort"


def recs(*rows: dict) -> pd.DataFrame:
    base = {"pmid": None, "doi": None, "year": 2023, "authors": ["Smith J"], "source": "Embase"}
    return pd.DataFrame([{**base, **r} for r in rows])


@pytest.fixture(scope="module")
def fixtures() -> pd.DataFrame:
    return combine_records(
        read_ris(IMPORTS / "embase.ris"),
        read_ris(IMPORTS / "scopus.ris"),
        read_ris(IMPORTS / "wos.ris"),
        read_ris(IMPORTS / "wos.txt", id_prefix="wostxt"),
        read_ris(IMPORTS / "cochrane_central.ris"),
        read_csv_export(IMPORTS / "scopus.csv", source="Scopus", id_prefix="scopuscsv"),
    )


# -- the fixtures: 19 records, 7 synthetic articles (tests/data/imports/README.md) ----------


def test_fixture_groups(fixtures: pd.DataFrame) -> None:
    res = deduplicate(fixtures)
    assert (res.n_records, res.n_unique, res.n_duplicates) == (19, 7, 12)
    gid = dict(zip(res.groups["record_id"], res.groups["group_id"]))
    # article 1 in five exports, joined by PMID and DOI
    assert {gid[r] for r in ("embase:1", "scopus:1", "wos:1", "central:1", "scopuscsv:1")} == {
        "embase:1"
    }
    # article 2: the WoS tagged record is the most complete, so it is kept
    assert {gid[r] for r in ("scopus:2", "wos:2", "wostxt:1", "central:2", "scopuscsv:2")} == {
        "wostxt:1"
    }
    # myeloid neoplasms: no DOI anywhere; upper case, " - " and a typo, joined fuzzily
    assert gid["scopus:4"] == gid["wostxt:2"] == gid["embase:4"] == "embase:4"
    links = res.links.set_index("record_id")
    assert links.loc["scopus:4", "reason"] == "fuzzy"
    assert 95 <= links.loc["scopus:4", "score"] < 100
    # companion articles Part I / Part II are never merged
    assert gid["embase:2"] == gid["wos:3"] != gid["scopus:3"] == gid["scopuscsv:3"]
    assert set(res.conflicts["blocked_by"]) == {"numbers_differ"}
    # singletons
    assert gid["embase:3"] == "embase:3" and gid["central:3"] == "central:3"


def test_fixture_prisma_counts(fixtures: pd.DataFrame) -> None:
    res = deduplicate(fixtures)
    bs = res.by_source.set_index("source")
    assert bs.loc["Embase"].tolist() == [4, 0, 4]
    assert bs.loc["Scopus"].tolist() == [7, 6, 1]
    assert bs.loc["Web of Science"].tolist() == [5, 4, 1]
    assert bs.loc["Cochrane CENTRAL"].tolist() == [3, 2, 1]
    assert bs["identified"].sum() == res.n_records
    assert bs["duplicates_removed"].sum() == res.n_duplicates == len(res.links)
    assert bs["kept"].sum() == res.n_unique == len(res.unique)
    assert res.reason_counts() == {"pmid": 6, "doi": 4, "fuzzy": 2, "manual": 0}


def test_result_shapes_and_display(fixtures: pd.DataFrame) -> None:
    res = deduplicate(fixtures)
    assert isinstance(res, DedupResult)
    with pytest.raises(AttributeError):
        res.n_unique = 0  # type: ignore[misc]
    assert list(res.links.columns) == [
        "record_id",
        "duplicate_of",
        "reason",
        "score",
        "matched_with",
    ]
    assert set(res.links["reason"]) <= {"pmid", "doi", "fuzzy", "manual"}
    # groups: group_id = COALESCE(duplicate_of, record_id)
    g = res.groups.merge(res.links, on="record_id", how="left")
    assert (g["group_id"] == g["duplicate_of"].fillna(g["record_id"])).all()
    assert (
        res.unique["record_id"].tolist() == res.groups.loc[res.groups["kept"], "record_id"].tolist()
    )
    frame = res.to_frame()
    assert len(frame) == 19 and frame["reason"].notna().sum() == 12
    text = res.summary()
    assert "19 records" in text and "7 unique" in text and "12 duplicates removed" in text
    assert "Cochrane CENTRAL" in text and "numbers_differ 4" in text
    assert "<table" in res._repr_html_()
    assert repr(res).startswith("DedupResult(n_records=19")


def test_group_view(fixtures: pd.DataFrame) -> None:
    res = deduplicate(fixtures)
    g = res.group("scopus:4")
    assert g["record_id"].tolist()[0] == "embase:4" and g["kept"].tolist() == [True, False, False]
    assert set(g["record_id"]) == {"embase:4", "scopus:4", "wostxt:2"}
    assert g["reason"].tolist()[1:] == ["fuzzy", "fuzzy"]
    assert len(res.group("central:3")) == 1
    with pytest.raises(KeyError):
        res.group("nope:1")


def test_unique_filled_from_group() -> None:
    df = recs(
        {"record_id": "embase:1", "title": TITLE, "doi": "10.1/a", "abstract": None},
        {"record_id": "scopus:1", "title": TITLE, "pmid": "123", "abstract": "Text."},
    )
    res = deduplicate(df)
    u = res.unique.iloc[0]
    assert (u["pmid"], u["doi"], u["abstract"]) == ("123", "10.1/a", "Text.")
    assert u["group_size"] == 2 and u["group_sources"] == ["Embase"]


# -- exact passes --------------------------------------------------------------------------


def test_exact_pmid_and_pubmed_kept() -> None:
    df = recs(
        {"record_id": "embase:1", "title": "Completely different wording one", "pmid": "42"},
        {"record_id": "pubmed:42", "title": "Other words entirely here", "pmid": "42",
         "source": "PubMed"},
    )  # fmt: skip
    res = deduplicate(df)
    assert res.links.to_dict("records") == [
        {"record_id": "embase:1", "duplicate_of": "pubmed:42", "reason": "pmid", "score": 100.0,
         "matched_with": "pubmed:42"}
    ]  # fmt: skip


def test_exact_doi_normalised() -> None:
    df = recs(
        {"record_id": "a:1", "title": "Some title about cancer one", "doi": "10.1000/ABC."},
        {
            "record_id": "b:1",
            "title": "Unrelated words entirely",
            "doi": "https://doi.org/10.1000/abc",
        },
    )
    res = deduplicate(df)
    assert res.links["reason"].tolist() == ["doi"]


# -- the distinct-DOI rule (CiteSource #264) ---------------------------------------------------


def test_distinct_dois_never_auto_merged() -> None:
    df = recs(
        {"record_id": "a:1", "title": TITLE, "doi": "10.1/part-one"},
        {"record_id": "b:1", "title": TITLE, "doi": "10.1/part-two"},
    )
    res = deduplicate(df)
    assert res.n_duplicates == 0
    c = res.conflicts.iloc[0]
    assert (c["record_id_a"], c["record_id_b"], c["reason"], c["blocked_by"]) == (
        "a:1", "b:1", "fuzzy", "distinct_doi",
    )  # fmt: skip
    assert c["score"] == 100.0


def test_distinct_dois_not_merged_through_a_chain() -> None:
    # b (no DOI) matches both a and c; joining all three would put two DOIs in one group
    df = recs(
        {"record_id": "a:1", "title": TITLE, "doi": "10.1/x"},
        {"record_id": "b:1", "title": TITLE},
        {"record_id": "c:1", "title": TITLE, "doi": "10.1/y"},
    )
    res = deduplicate(df)
    assert res.n_duplicates == 1
    for gid, grp in res.groups.groupby("group_id"):
        dois = {
            d for d in df.set_index("record_id").loc[grp["record_id"], "doi"] if isinstance(d, str)
        }
        assert len(dois) <= 1, gid
    assert "distinct_doi" in set(res.conflicts["blocked_by"])


def test_same_pmid_distinct_doi_not_merged() -> None:
    df = recs(
        {
            "record_id": "a:1",
            "title": "First wording of a title here",
            "pmid": "7",
            "doi": "10.1/x",
        },
        {
            "record_id": "b:1",
            "title": "Other wording of a title here",
            "pmid": "7",
            "doi": "10.1/y",
        },
    )
    res = deduplicate(df)
    assert res.n_duplicates == 0
    assert res.conflicts[["reason", "blocked_by"]].values.tolist() == [["pmid", "distinct_doi"]]


def test_same_doi_distinct_pmid_not_merged() -> None:
    df = recs(
        {
            "record_id": "a:1",
            "title": "First wording of a title here",
            "pmid": "7",
            "doi": "10.1/x",
        },
        {
            "record_id": "b:1",
            "title": "Other wording of a title here",
            "pmid": "8",
            "doi": "10.1/x",
        },
    )
    assert deduplicate(df).conflicts["blocked_by"].tolist() == ["distinct_pmid"]


# -- fuzzy pass ----------------------------------------------------------------------------


def test_fuzzy_case_punctuation_markup_typo() -> None:
    df = recs(
        {"record_id": "a:1", "title": TITLE},
        {"record_id": "b:1", "title": TITLE.upper() + ".", "authors": ["SMITH J"]},
        {"record_id": "c:1", "title": TITLE.replace("T-cell", "<i>T</i> cell")},
        {"record_id": "d:1", "title": TITLE.replace("malignancies", "malignancise"), "year": 2024},
    )
    res = deduplicate(df)
    assert res.n_unique == 1
    assert set(res.links["reason"]) == {"fuzzy"}


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"year": 2026}, "year more than one apart"),
        ({"authors": ["Okonkwo C"]}, "different first author"),
        ({"title": TITLE.replace("synthetic cohort", "Danish registry")}, "different title"),
        ({"title": TITLE + ": phase 2"}, "below threshold"),
    ],
)
def test_fuzzy_rejects(change: dict, why: str) -> None:
    df = recs({"record_id": "a:1", "title": TITLE}, {"record_id": "b:1", "title": TITLE, **change})
    assert deduplicate(df).n_duplicates == 0, why


def test_fuzzy_missing_year_or_author_still_matches() -> None:
    df = recs(
        {"record_id": "a:1", "title": TITLE},
        {"record_id": "b:1", "title": TITLE, "year": None, "authors": []},
    )
    assert deduplicate(df).n_duplicates == 1


def test_numbers_in_titles_must_agree() -> None:
    df = recs(
        {"record_id": "a:1", "title": "Long-term follow-up of CAR T-cell recipients: part I"},
        {"record_id": "b:1", "title": "Long-term follow-up of CAR T-cell recipients: part II"},
        {"record_id": "c:1", "title": "Outcomes of the ZUMA-7 synthetic trial at 24 months"},
        {"record_id": "d:1", "title": "Outcomes of the ZUMA-7 synthetic trial at 36 months"},
    )
    res = deduplicate(df, threshold=90)
    assert res.n_duplicates == 0
    assert res.conflicts["blocked_by"].tolist() == ["numbers_differ", "numbers_differ"]


def test_short_titles_never_fuzzy_matched() -> None:
    df = recs({"record_id": "a:1", "title": "Erratum"}, {"record_id": "b:1", "title": "Erratum"})
    assert deduplicate(df).n_duplicates == 0


def test_words_that_are_not_typos_keep_titles_apart() -> None:
    # fuzz.ratio alone would merge these (98.3 and 95.8 >= 95)
    pairs = [
        ("Second primary malignancies after CAR T-cell therapy in men",
         "Second primary malignancies after CAR T-cell therapy in women"),
        ("Incidence of T-cell lymphoma after BCMA-directed CAR T cells in myeloma",
         "Incidence of T-cell lymphoma after CD19-directed CAR T cells in myeloma"),
    ]  # fmt: skip
    for a, b in pairs:
        res = deduplicate(recs({"record_id": "a:1", "title": a}, {"record_id": "b:1", "title": b}))
        assert res.n_duplicates == 0
        assert res.conflicts["blocked_by"].iloc[0] in ("words_differ", "numbers_differ")
    # typos, British/American spelling and a split word are the same words
    a = "Long-term haematological toxicity of randomised CAR T-cell trials in tumours"
    b = "Longterm hematological toxicity of randomized CAR T-cell trials in tumours"
    res = deduplicate(
        recs({"record_id": "a:1", "title": a}, {"record_id": "b:1", "title": b}), threshold=90
    )
    assert res.n_duplicates == 1


def test_threshold_is_used() -> None:
    a = "Second primary malignancies after CAR T-cell therapy in a synthetic cohort"
    b = "Sucond primery malignancias aftor CAR T-cell therapy in a synthetic cohort"
    df = recs({"record_id": "a:1", "title": a}, {"record_id": "b:1", "title": b})
    assert deduplicate(df).n_duplicates == 0
    assert deduplicate(df, threshold=90).n_duplicates == 1
    with pytest.raises(OptionError, match="Invalid threshold"):
        deduplicate(df, threshold=0)


def test_large_block_compared_by_year_windows() -> None:
    # 1,000 titles share their first two words (one block > _BIG_BLOCK); one planted pair
    rows = [
        {"record_id": f"x:{k}", "title": f"Synthetic cohort of patient group {k} number {k * 7}",
         "year": 1990 + k % 30, "authors": [f"Author{k} A"]}
        for k in range(1000)
    ]  # fmt: skip
    x = rows[500]
    rows.append(
        {
            "record_id": "y:1",
            "title": x["title"].upper(),
            "year": x["year"] + 1,
            "authors": x["authors"],
        }
    )
    res = deduplicate(recs(*rows))
    assert res.links[["record_id", "duplicate_of"]].values.tolist() == [["y:1", "x:500"]]


def test_normalise_title() -> None:
    assert normalise_title("Évaluation <sup>2</sup> of   CAR-T.") == "evaluation 2 of car t"
    assert normalise_title(None) == ""


# -- input checks ------------------------------------------------------------------------------


def test_input_errors() -> None:
    with pytest.raises(InputError, match="record_id"):
        deduplicate(pd.DataFrame({"source": ["x"], "title": ["t"]}))
    df = recs({"record_id": "a:1", "title": "x"}, {"record_id": "a:1", "title": "y"})
    with pytest.raises(InputError, match="more than once") as e:
        deduplicate(df)
    assert e.value.row == 1 and e.value.column == "record_id"


def test_empty_input() -> None:
    res = deduplicate(pd.DataFrame({"record_id": [], "source": [], "title": []}))
    assert (res.n_records, res.n_unique, res.n_duplicates) == (0, 0, 0)
    assert "0 records" in res.summary()


# -- reviewer overrides ----------------------------------------------------------------------


def overrides(*rows: tuple[str, str, str]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"record_id_a": a, "record_id_b": b, "action": act, "reviewer": "KH", "note": None}
         for a, b, act in rows]
    )  # fmt: skip


def test_override_separate_blocks_fuzzy_merge() -> None:
    df = recs({"record_id": "a:1", "title": TITLE}, {"record_id": "b:1", "title": TITLE})
    assert deduplicate(df).n_duplicates == 1
    res = deduplicate(df, overrides=overrides(("a:1", "b:1", "separate")))
    assert res.n_duplicates == 0
    assert res.conflicts["blocked_by"].tolist() == ["separate_override"]
    assert res.overrides["effect"].tolist() == ["kept apart (an automatic merge was refused)"]
    assert "separate a:1 b:1 (KH): kept apart" in res.summary()


def test_override_merge_even_with_distinct_dois() -> None:
    df = recs(
        {"record_id": "a:1", "title": "A conference abstract title", "doi": "10.1/abs"},
        {"record_id": "b:1", "title": "The full paper that followed it", "doi": "10.1/full"},
    )
    res = deduplicate(df, overrides=overrides(("b:1", "a:1", "merge")))
    assert res.n_duplicates == 1
    link = res.links.iloc[0]
    assert link["reason"] == "manual" and math.isnan(link["score"])
    assert res.overrides["effect"].tolist() == ["merged"]


def test_later_override_row_wins_and_unknown_ids_warn() -> None:
    df = recs({"record_id": "a:1", "title": TITLE}, {"record_id": "b:1", "title": TITLE})
    ov = overrides(("a:1", "b:1", "separate"), ("b:1", "a:1", "merge"), ("a:1", "zz:9", "merge"))
    with pytest.warns(UserWarning, match="zz:9"):
        res = deduplicate(df, overrides=ov)
    assert res.links["reason"].tolist() == ["manual"]
    assert res.overrides["effect"].tolist()[0] == "superseded by a later row"
    assert res.overrides["effect"].tolist()[2].startswith("not applied: unknown record_id")


def test_separate_then_merge_through_third_record_is_refused() -> None:
    df = recs(
        {"record_id": "a:1", "title": "Alpha title words for a test"},
        {"record_id": "b:1", "title": "Beta title words for a test"},
        {"record_id": "c:1", "title": "Gamma title words for a test"},
    )
    ov = overrides(("a:1", "c:1", "separate"), ("a:1", "b:1", "merge"), ("b:1", "c:1", "merge"))
    res = deduplicate(df, overrides=ov)
    assert res.n_unique == 2
    effects = res.overrides["effect"].tolist()
    assert effects[1] == "merged" and effects[2].startswith("not applied")


def test_overrides_file_roundtrip(tmp_path: Path) -> None:
    path = tmp_path / "dedup" / "overrides.csv"
    assert load_overrides(path).empty
    add_override(path, "a:1", "b:1", "separate", reviewer="KH", note="Part I vs Part II, checked")
    add_override(path, "c:1", "d:1", "merge", reviewer="EL")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == ",".join(OVERRIDE_COLUMNS) and len(lines) == 3
    ov = load_overrides(path)
    assert ov.values.tolist() == [
        ["a:1", "b:1", "separate", "KH", "Part I vs Part II, checked"],
        ["c:1", "d:1", "merge", "EL", None],
    ]
    df = recs({"record_id": "a:1", "title": TITLE}, {"record_id": "b:1", "title": TITLE})
    with pytest.warns(UserWarning):  # c:1 and d:1 are not in this set
        assert deduplicate(df, overrides=path).n_duplicates == 0


def test_add_override_concurrent_appends(tmp_path: Path) -> None:
    path = tmp_path / "overrides.csv"

    def worker(k: int) -> None:
        for m in range(20):
            add_override(path, f"a:{k}", f"b:{m}", "merge", reviewer=f"R{k}")

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ov = load_overrides(path)
    assert len(ov) == 80 and len(ov.drop_duplicates()) == 80


def test_bad_overrides_name_row_and_column(tmp_path: Path) -> None:
    path = tmp_path / "overrides.csv"
    path.write_text(
        "record_id_a,record_id_b,action,reviewer,note\na:1,b:1,merge,KH,\na:1,c:1,join,KH,\n",
        encoding="utf-8",
    )
    with pytest.raises(CSVImportError, match="Invalid action 'join'") as e:
        load_overrides(path)
    assert (e.value.row, e.value.column) == (3, "action")
    path.write_text("record_id_a,record_id_b,action\n", encoding="utf-8")
    with pytest.raises(CSVImportError, match="missing column") as e:
        load_overrides(path)
    assert e.value.column == "reviewer"
    with pytest.raises(CSVImportError, match="same"):
        add_override(path, "a:1", "a:1", "merge", reviewer="KH")
    with pytest.raises(CSVImportError, match="reviewer is empty"):
        add_override(path, "a:1", "b:1", "merge", reviewer=" ")


# -- idempotence on the fixtures (the property test is in test_dedup_property.py) --------------


def test_idempotent_on_fixtures(fixtures: pd.DataFrame) -> None:
    res = deduplicate(fixtures)
    again = deduplicate(res.unique)
    assert again.n_duplicates == 0 and again.n_unique == res.n_unique
