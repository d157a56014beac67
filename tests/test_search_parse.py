"""Parsing: one regression test per pymed defect (audit P1-P12) on the real E-utilities
responses in ../shared/fixtures/pubmed (skipped when absent) and on our synthetic fixtures
in tests/data/pubmed (MedlineDate, reference-list DOIs, HTML page, torn file)."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest
from pymed.article import PubMedArticle
from pymed.book import PubMedBookArticle

from review._schema import RECORD_COLUMNS
from review.errors import InputError, PubMedXMLError
from review.search import ReviewArticle, ReviewBookArticle, iter_pubmed_records, parse_pubmed_xml

DATA = Path(__file__).parent / "data" / "pubmed"


def one(df: pd.DataFrame, pmid: str) -> pd.Series:
    rows = df[df["pmid"] == pmid]
    assert len(rows) == 1, f"expected exactly one row for PMID {pmid}, got {len(rows)}"
    return rows.iloc[0]


def pymed_articles(path: Path) -> list:
    """pymed's own parsing of a file, as PubMed._getArticles does it."""
    root = ET.fromstring(path.read_bytes())
    return [PubMedArticle(xml_element=a) for a in root.iter("PubmedArticle")] + [
        PubMedBookArticle(xml_element=b) for b in root.iter("PubmedBookArticle")
    ]


# -- schema -----------------------------------------------------------------------------


def test_schema_columns_and_types(pubmed_fixtures: Path) -> None:
    df = parse_pubmed_xml(pubmed_fixtures / "biopython-pubmed1.xml")
    assert tuple(df.columns[: len(RECORD_COLUMNS)]) == RECORD_COLUMNS
    assert str(df["year"].dtype) == "Int64"
    assert list(df["pmid"]) == ["12091962", "9997"]
    assert list(df["record_id"]) == ["pubmed:12091962", "pubmed:9997"]
    assert set(df["source"]) == {"PubMed"}
    for col in ("authors", "publication_types", "mesh_terms", "keywords"):
        assert all(isinstance(v, list) for v in df[col]), col
    assert df.loc[0, "abstract"] is None  # no abstract: None, not "" or NaN


# -- P1: PMID scoped to the record, not the reference list ------------------------------


@pytest.mark.parametrize(
    ("name", "pmid", "n_refs"),
    [
        ("biopython-pubmed7.xml", "29963580", 49),
        ("metapub-pmid_28731372.xml", "28731372", 33),
        ("metapub-sample_article_20301577.xml", "20301577", 30),
    ],
)
def test_p1_pmid_is_the_records_own(
    pubmed_fixtures: Path, name: str, pmid: str, n_refs: int
) -> None:
    path = pubmed_fixtures / name
    assert len(pymed_articles(path)[0].pubmed_id.split("\n")) >= n_refs  # the defect
    df = parse_pubmed_xml(path)
    assert list(df["pmid"]) == [pmid]


# -- P2 / P12: inline markup and MathML kept as text ------------------------------------


def test_p2_title_with_markup_is_whole(pubmed_fixtures: Path) -> None:
    path = pubmed_fixtures / "biopython-pubmed4.xml"
    assert pymed_articles(path)[0].title.endswith("variants at the ")  # the defect
    r = one(parse_pubmed_xml(path), "27797938")
    assert r["title"] == (
        "Leucocyte telomere length, genetic variants at the TERT gene region and risk of "
        "pancreatic cancer."
    )


def test_p2_title_with_sub_is_whole(pubmed_fixtures: Path) -> None:
    r = one(parse_pubmed_xml(pubmed_fixtures / "metapub-pmid_28731372.xml"), "28731372")
    assert r["title"].startswith("Exploring the effect of vitamin D3 supplementation")
    assert r["title"].endswith("relapsing-remitting multiple sclerosis.")


def test_p2_abstract_with_markup_and_mathml_is_whole(pubmed_fixtures: Path) -> None:
    for name, pmid in [
        ("biopython-pubmed4.xml", "27797938"),
        ("biopython-pubmed7.xml", "29963580"),
        ("metapub-pmid_28731372.xml", "28731372"),
    ]:
        path = pubmed_fixtures / name
        root = ET.fromstring(path.read_bytes())
        parts = root.findall(".//MedlineCitation/Article/Abstract/AbstractText")
        full = [" ".join("".join(p.itertext()).split()) for p in parts]
        ours = one(parse_pubmed_xml(path), pmid)["abstract"]
        theirs = pymed_articles(path)[0].abstract or ""
        for text in full:
            assert text in ours, (name, text[:60])
        assert len(theirs) < sum(map(len, full))  # pymed cut it short
    mathml = one(parse_pubmed_xml(pubmed_fixtures / "biopython-pubmed7.xml"), "29963580")
    assert "He 3 / Xe 129 MRI" in mathml["abstract"]  # the MathML isotopes kept as text


def test_p2_book_sections_starting_with_markup_kept(pubmed_fixtures: Path) -> None:
    r = one(parse_pubmed_xml(pubmed_fixtures / "metapub-sample_article_20301577.xml"), "20301577")
    assert "MANAGEMENT: Treatment of manifestations:" in r["abstract"]
    assert "GENETIC COUNSELING: CACNA1C-related disorders are inherited" in r["abstract"]
    assert r["title"] == "CACNA1C-Related Disorders"  # chapter title opens with <i>


def test_p12_keyword_starting_with_markup() -> None:
    r = one(parse_pubmed_xml(DATA / "reference-doi.xml"), "92000003")
    assert r["keywords"] == ["In vitro study"]


# -- P3 / P4 / P11: structured abstracts ------------------------------------------------


def test_p3_sections_labelled(pubmed_fixtures: Path) -> None:
    r = one(parse_pubmed_xml(pubmed_fixtures / "biopython-pubmed4.xml"), "27797938")
    labels = [p.split(":", 1)[0] for p in r["abstract"].split("\n\n")]
    assert labels == ["OBJECTIVE", "DESIGN", "RESULTS", "CONCLUSIONS"]


def test_p4_methods_and_conclusions_by_nlm_category(pubmed_fixtures: Path) -> None:
    path = pubmed_fixtures / "metapub-sample_article_23435529.xml"
    theirs = pymed_articles(path)[0]
    assert theirs.methods is None  # the defect: label "PATIENTS AND METHODS" != "METHOD"
    root = ET.fromstring(path.read_bytes())
    ours = ReviewArticle(xml_element=root.find("PubmedArticle"))
    assert ours.methods.startswith("Patients with advanced NSCLC")
    assert ours.conclusions.startswith("DC demonstrated statistically significant")
    assert ours.results.startswith("A total of 408 patients")
    path4 = pubmed_fixtures / "biopython-pubmed4.xml"
    assert pymed_articles(path4)[0].conclusions is None  # "CONCLUSIONS" != "CONCLUSION"
    art4 = ReviewArticle(xml_element=ET.fromstring(path4.read_bytes()).find("PubmedArticle"))
    assert art4.conclusions.startswith("Prediagnostic leucocyte telomere length")


def test_p11_other_abstract_not_merged() -> None:
    r = one(parse_pubmed_xml(DATA / "reference-doi.xml"), "92000002")
    assert r["abstract"] == "English abstract."


# -- P5 / P6: the journal issue date, partial dates, MedlineDate ------------------------


def test_p5_issue_date_not_entry_date(pubmed_fixtures: Path) -> None:
    path = pubmed_fixtures / "biopython-pubmed4.xml"
    assert str(pymed_articles(path)[0].publication_date) == "2016-11-01"  # the defect
    r = one(parse_pubmed_xml(path), "27797938")
    assert (r["pub_date"], r["year"]) == ("2017-06", 2017)
    assert r["article_date"] == "2016-10-21"


def test_p5_season_kept(pubmed_fixtures: Path) -> None:
    r = one(parse_pubmed_xml(pubmed_fixtures / "biopython-pubmed1.xml"), "12091962")
    assert (r["pub_date"], r["year"]) == ("1990 Spring", 1990)


def test_p5_text_month(pubmed_fixtures: Path) -> None:
    r = one(parse_pubmed_xml(pubmed_fixtures / "biopython-pubmed7.xml"), "29963580")
    assert (r["pub_date"], r["year"]) == ("2018-04", 2018)


def test_p5_medline_date_synthetic() -> None:
    df = parse_pubmed_xml(DATA / "medline-date.xml")
    assert one(df, "91000001")[["pub_date", "year"]].tolist() == ["1998 Dec-1999 Jan", 1998]
    assert one(df, "91000002")[["pub_date", "year"]].tolist() == ["2000 Spring-Summer", 2000]
    r = one(df, "91000003")
    assert (r["pub_date"], r["year"], r["article_date"]) == ("2017-06", 2017, "2016-10-21")


def test_p6_book_date_same_type_as_articles(pubmed_fixtures: Path) -> None:
    df = parse_pubmed_xml(pubmed_fixtures / "metapub-sample_article_20301577.xml")
    assert (df.loc[0, "pub_date"], df.loc[0, "year"]) == ("1993", 1993)
    root = ET.fromstring((pubmed_fixtures / "biopython-pubmed4.xml").read_bytes())
    art = ReviewArticle(xml_element=root.find("PubmedArticle"))
    assert isinstance(art.publication_date, str)  # both str, never a date vs str mix


# -- P7: collective authors ------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "pmid", "group"),
    [
        ("biopython-pubmed7.xml", "29963580", "Canadian Respiratory Research Network"),
        ("metapub-sample_article_23435529.xml", "23435529", "TAX 325 Study Group"),
    ],
)
def test_p7_collective_name_kept(pubmed_fixtures: Path, name: str, pmid: str, group: str) -> None:
    theirs = pymed_articles(pubmed_fixtures / name)[0]
    assert any(a["lastname"] is None for a in theirs.authors)  # the defect
    r = one(parse_pubmed_xml(pubmed_fixtures / name), pmid)
    assert r["authors"][-1] == group
    assert r["authors"][0] in ("Guo F", "Fossella F")


# -- P8: MeSH, publication types, language ----------------------------------------------


def test_p8_mesh_publication_types_language(pubmed_fixtures: Path) -> None:
    r = one(parse_pubmed_xml(pubmed_fixtures / "biopython-pubmed4.xml"), "27797938")
    assert len(r["mesh_terms"]) == 21
    assert "Pancreatic Neoplasms*" in r["mesh_terms"]  # a major topic is marked
    assert "Humans" in r["mesh_terms"]
    assert r["publication_types"][:2] == ["Journal Article", "Observational Study"]
    assert len(r["publication_types"]) == 5
    assert r["language"] == "eng"
    assert r["keywords"] == ["PANCREATIC CANCER"]
    assert not hasattr(pymed_articles(pubmed_fixtures / "biopython-pubmed4.xml")[0], "mesh")


def test_p8_mesh_major_topic_on_qualifier(pubmed_fixtures: Path) -> None:
    # 23435529: "Carcinoma, Non-Small-Cell Lung" is major only through a qualifier.
    path = pubmed_fixtures / "metapub-sample_article_23435529.xml"
    root = ET.fromstring(path.read_bytes())
    heading = next(
        h
        for h in root.iter("MeshHeading")
        if h.findtext("DescriptorName") == "Carcinoma, Non-Small-Cell Lung"
    )
    major_somewhere = heading.find("DescriptorName").get("MajorTopicYN") == "Y" or any(
        q.get("MajorTopicYN") == "Y" for q in heading.findall("QualifierName")
    )
    r = one(parse_pubmed_xml(path), "23435529")
    assert ("Carcinoma, Non-Small-Cell Lung*" in r["mesh_terms"]) == major_somewhere
    assert "Humans" in r["mesh_terms"]


# -- P9: DOI scoped (ArticleIdList, then ELocationID) -----------------------------------


def test_p9_reference_dois_do_not_leak() -> None:
    path = DATA / "reference-doi.xml"
    theirs = {a.title: a.doi for a in pymed_articles(path)}
    assert "\n" in theirs["Own DOI in the ArticleIdList."]  # pymed joins reference DOIs
    df = parse_pubmed_xml(path)
    assert one(df, "92000001")["doi"] == "10.9999/own.1"  # ArticleIdList wins, lower-cased
    assert one(df, "92000002")["doi"] == "10.9999/own.2"  # ELocationID fallback
    assert one(df, "92000003")["doi"] is None  # none of its own; references ignored


def test_p9_real_doi(pubmed_fixtures: Path) -> None:
    r = one(parse_pubmed_xml(pubmed_fixtures / "biopython-pubmed4.xml"), "27797938")
    assert r["doi"] == "10.1136/gutjnl-2016-312510"


# -- P10: book chapters -----------------------------------------------------------------


def test_p10_book_chapter_title_and_roles(pubmed_fixtures: Path) -> None:
    path = pubmed_fixtures / "metapub-sample_article_20301577.xml"
    assert pymed_articles(path)[0].title == "GeneReviews"  # the defect: book title, truncated
    r = one(parse_pubmed_xml(path), "20301577")
    assert r["title"] == "CACNA1C-Related Disorders"
    assert r["book_title"] == "GeneReviews®" and r["journal"] == "GeneReviews®"
    assert r["authors"] == ["Napolitano C", "Priori SG"]  # chapter authors, not editors
    assert r["article_type"] == "book-article"
    assert len(r["keywords"]) == 9
    assert r["publication_types"] == ["Review"]
    root = ET.fromstring(path.read_bytes())
    book = ReviewBookArticle(xml_element=root.find("PubmedBookArticle"))
    assert [e["lastname"] for e in book.editors][:2] == ["Adam", "Feldman"]
    assert len(book.sections) == 12 and book.sections[1]["title"] == "GeneReview Scope"


# -- errors: malformed XML, HTML pages, records kept ------------------------------------


def test_html_error_page_is_named() -> None:
    path = DATA / "html-error-page.xml"
    with pytest.raises(PubMedXMLError) as info:
        parse_pubmed_xml(path)
    e = info.value
    assert isinstance(e, InputError) and e.path == str(path)
    assert "HTML page" in str(e) and "WWW Error 502" in str(e)


def test_torn_file_names_record_and_line_and_keeps_records() -> None:
    path = DATA / "broken-third-record.xml"
    with pytest.raises(PubMedXMLError) as info:
        parse_pubmed_xml(path)
    e = info.value
    assert e.path == str(path)
    assert "record #3" in str(e) and "PMID 93000002" in str(e)
    assert e.row == 7  # the line of the torn record
    assert list(e.records["pmid"]) == ["93000001", "93000002"]  # nothing read is lost


def test_errors_collect_returns_what_was_read() -> None:
    df = parse_pubmed_xml(DATA / "broken-third-record.xml", errors="collect")
    assert list(df["pmid"]) == ["93000001", "93000002"]
    assert len(df.attrs["errors"]) == 1
    assert isinstance(df.attrs["errors"][0], PubMedXMLError)


def test_record_without_pmid_is_named_by_ordinal() -> None:
    xml = (
        b"<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>5</PMID><Article>"
        b"<ArticleTitle>ok</ArticleTitle></Article></MedlineCitation></PubmedArticle>"
        b"<PubmedArticle><MedlineCitation><Article><ArticleTitle>no id</ArticleTitle>"
        b"</Article></MedlineCitation></PubmedArticle></PubmedArticleSet>"
    )
    with pytest.raises(PubMedXMLError, match=r"record #2 .*no PMID") as info:
        parse_pubmed_xml(xml)
    assert list(info.value.records["pmid"]) == ["5"]


def test_efetch_error_document_is_refused() -> None:
    xml = b"<eFetchResult><ERROR>Empty id list - nothing todo</ERROR></eFetchResult>"
    with pytest.raises(PubMedXMLError, match="Empty id list"):
        parse_pubmed_xml(xml)


def test_esearch_fixture_is_not_mistaken_for_records(pubmed_fixtures: Path) -> None:
    with pytest.raises(PubMedXMLError, match="eSearchResult"):
        parse_pubmed_xml(pubmed_fixtures / "biopython-esearch2.xml")


def test_empty_article_set_is_fine() -> None:
    df = parse_pubmed_xml(b"<?xml version='1.0'?><PubmedArticleSet></PubmedArticleSet>")
    assert len(df) == 0 and tuple(df.columns[:14]) == RECORD_COLUMNS


def test_sources_path_bytes_and_file_agree(pubmed_fixtures: Path) -> None:
    path = pubmed_fixtures / "biopython-pubmed4.xml"
    a = parse_pubmed_xml(path)
    b = parse_pubmed_xml(path.read_bytes())
    c = parse_pubmed_xml(io.BufferedReader(io.BytesIO(path.read_bytes())))
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(a, c)


def _many(n: int, torn_at: int | None = None) -> bytes:
    recs = []
    for i in range(1, n + 1):
        title = f"Record {i} on <i>CD{i % 30}</i> &amp; more" + " words" * (i % 17)
        rec = (
            f"<PubmedArticle>\n<MedlineCitation><PMID>{i}</PMID><Article>\n"
            f"<ArticleTitle>{title}</ArticleTitle></Article></MedlineCitation>\n</PubmedArticle>"
        )
        if i == torn_at:
            rec = rec[: len(rec) // 2]
        recs.append(rec)
    body = "\n".join(recs)
    if torn_at:
        body = body.replace("</PubmedArticle>", "</PubmedArticle >", 0)
    return (
        '<?xml version="1.0" ?>\n<!DOCTYPE PubmedArticleSet>\n<PubmedArticleSet>\n'
        + body
        + "\n</PubmedArticleSet>\n"
    ).encode()


def test_chunks_cut_anywhere_give_the_same_records(monkeypatch: pytest.MonkeyPatch) -> None:
    import review.search._parse as parse_mod

    xml = _many(400)
    whole = pd.DataFrame(list(parse_mod._Reader(None, b"", "raise", None).stream(io.BytesIO(xml))))
    for size in (64, 1000, 4096, 1 << 20):
        monkeypatch.setattr(parse_mod, "CHUNK", size)
        df = parse_pubmed_xml(xml)
        assert list(df["pmid"]) == [str(i) for i in range(1, 401)], size
        assert list(df["title"]) == list(whole["title"]), size
    assert df.loc[0, "title"] == "Record 1 on CD1 & more words"


def test_memory_bounded_by_chunks_not_by_file(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each tree built holds one chunk of records, however long the file.
    import review.search._parse as parse_mod

    monkeypatch.setattr(parse_mod, "CHUNK", 8192)
    monkeypatch.setattr(parse_mod, "BLOCK", 2048)
    sizes: list[int] = []
    real = parse_mod._Chunk.close

    def spy(self: object) -> object:
        sizes.append(self.size)  # type: ignore[attr-defined]
        return real(self)  # type: ignore[arg-type]

    monkeypatch.setattr(parse_mod._Chunk, "close", spy)
    xml = _many(5000)
    n = sum(1 for _ in iter_pubmed_records(xml))
    assert n == 5000
    assert len(sizes) > 50 and sum(sizes) >= len(xml) * 0.95  # the file went through in pieces
    assert max(sizes) < 8192 + 2 * 2048  # no tree much larger than a chunk


def test_torn_record_deep_in_a_large_file(monkeypatch: pytest.MonkeyPatch) -> None:
    import review.search._parse as parse_mod

    monkeypatch.setattr(parse_mod, "CHUNK", 4096)
    xml = _many(300, torn_at=250)
    start = xml.rindex(b"<PubmedArticle>", 0, xml.index(b"<PMID>250</PMID>"))
    torn_line = xml[:start].count(b"\n") + 1  # the line where the torn record starts
    with pytest.raises(PubMedXMLError) as info:
        parse_pubmed_xml(xml)
    e = info.value
    assert list(e.records["pmid"]) == [str(i) for i in range(1, 250)]  # nothing read is lost
    assert "record #250 (PMID 250) is not closed" in str(e)
    assert e.row == torn_line
    df = parse_pubmed_xml(xml, errors="collect")
    assert {str(i) for i in range(1, 250)} <= set(df["pmid"])
    assert "250" not in set(df["pmid"]) and len(df.attrs["errors"]) >= 1


# -- a fault: what the parser does with the data around it never decides what is kept ----


def _fault_in(n: int, at: int) -> bytes:
    """``_many(n)`` with a mismatched end tag inside record ``at``."""
    tag = f"<PMID>{at}</PMID>".encode()
    return _many(n).replace(tag, tag + b"<x></y>")


@pytest.mark.parametrize("path", ["chunked", "whole-file"])
def test_records_before_a_fault_in_the_same_block_are_kept(
    monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    # 300 records are ~65 KB: the fault is in the second 32 KiB block of the streaming parser.
    # lxml 6.2's iterparse dropped every record of a block whose parsing failed (1-151 kept).
    import review.search._parse as parse_mod

    xml = _fault_in(300, 280)
    if path == "whole-file":  # an internal DTD subset: the whole file goes to the stream
        xml = xml.replace(b"<!DOCTYPE PubmedArticleSet>", b"<!DOCTYPE PubmedArticleSet [ ]>")
        xml = xml.replace(b"[ ]", b"[<!ENTITY x 'y'>]")

        def no_chunks(*args: object) -> None:
            raise AssertionError("the whole file should go to the streaming parser")

        monkeypatch.setattr(parse_mod._Reader, "chunks", no_chunks)
    with pytest.raises(PubMedXMLError) as info:
        parse_pubmed_xml(xml)
    e = info.value
    assert list(e.records["pmid"]) == [str(i) for i in range(1, 280)]
    assert "after record #279 (PMID 279), in record #280" in str(e)
    assert e.row == xml[: xml.index(b"</y>")].count(b"\n") + 1
    df = parse_pubmed_xml(xml, errors="collect")
    assert list(df["pmid"]) == [str(i) for i in range(1, 280)]


@pytest.mark.parametrize("codec", ["UTF-16", "UTF-16LE", "UTF-16BE", "ISO-8859-1", "windows-1252"])
def test_records_before_a_fault_are_kept_in_other_encodings(codec: str) -> None:
    # Re-saved files go to the streaming parser, which finds the records' ends in their
    # own encoding (UTF-16 told by its byte-order mark or by the zero bytes around "<").
    text = _fault_in(300, 280).decode().replace("Record 7 on", "Récord 7 on")
    text = text.replace('<?xml version="1.0" ?>', f'<?xml version="1.0" encoding="{codec}"?>')
    xml = text.encode(codec)
    with pytest.raises(PubMedXMLError, match="in record #280") as info:
        parse_pubmed_xml(xml)
    pmids = list(info.value.records["pmid"])
    assert pmids == [str(i) for i in range(1, 280)], codec
    assert info.value.records["title"][6].startswith("Récord 7 on")
    assert info.value.row == text[: text.index("</y>")].count("\n") + 1


def test_pieces_end_right_after_each_record(monkeypatch: pytest.MonkeyPatch) -> None:
    import review.search._parse as parse_mod

    xml = _many(40)
    for block in (1, 7, 100, 1 << 17):  # end tags cut by the blocks' edges
        monkeypatch.setattr(parse_mod, "BLOCK", block)
        pieces = list(parse_mod._pieces(io.BytesIO(xml)))
        assert b"".join(pieces) == xml, block
        ends = [p.endswith(b"</PubmedArticle>") for p in pieces]
        assert sum(ends) == 40 and all(
            p.count(b"</PubmedArticle>") == e for p, e in zip(pieces, ends)
        )


def test_a_record_is_read_as_soon_as_its_end_tag_is_fed() -> None:
    # What the streaming parser relies on (no more): the parser reports a record once the
    # bytes up to its end tag are fed, never later, so the records before a fault are read
    # before the piece holding the fault is fed.
    from lxml import etree

    import review.search._parse as parse_mod

    parser = etree.XMLPullParser(
        events=("end",), tag=parse_mod._RECORD_TAGS, **parse_mod._PARSER_OPTIONS
    )
    ended, read = 0, []
    for piece in parse_mod._pieces(io.BytesIO(_many(60))):
        parser.feed(piece)
        ended += piece.endswith(b"</PubmedArticle>")
        read += [e.findtext("MedlineCitation/PMID") for _, e in parser.read_events()]
        assert read == [str(i) for i in range(1, ended + 1)]
    parser.close()
    assert ended == 60


# -- reference lists: checked for well-formedness, not built into the tree ---------------


def _full_path(xml: bytes) -> list[dict]:
    """Records read by the streaming parser over whole trees (nothing set aside)."""
    import review.search._parse as parse_mod

    return list(parse_mod._Reader(None, b"", "raise", None).stream(io.BytesIO(xml)))


def _with_refs(i: int, refs: str) -> str:
    return (
        f"<PubmedArticle>\n<MedlineCitation><PMID>{i}</PMID><Article>\n"
        f"<ArticleTitle>Title {i}</ArticleTitle></Article></MedlineCitation>\n"
        f'<PubmedData>\n<ArticleIdList><ArticleId IdType="pubmed">{i}</ArticleId>'
        f'<ArticleId IdType="doi">10.1/OWN.{i}</ArticleId></ArticleIdList>\n'
        f"{refs}\n</PubmedData>\n</PubmedArticle>"
    )


_REFS = (
    "<ReferenceList>\n<Reference><Citation>A cited work</Citation><ArticleIdList>"
    '<ArticleId IdType="doi">10.9/cited</ArticleId><ArticleId IdType="pubmed">1</ArticleId>'
    "</ArticleIdList></Reference>\n</ReferenceList>"
)


def _set(records: list[str]) -> bytes:
    body = "\n".join(records)
    return f'<?xml version="1.0" ?>\n<PubmedArticleSet>\n{body}\n</PubmedArticleSet>\n'.encode()


def test_records_with_reference_lists_match_the_whole_tree_path(pubmed_fixtures: Path) -> None:
    # Real records (with reference lists, in articles and in book chapters) and synthetic
    # ones with nested and repeated lists: the same records as from whole trees.
    import review.search._parse as parse_mod

    for path in sorted(pubmed_fixtures.glob("*.xml")) + sorted(DATA.glob("*.xml")):
        data = path.read_bytes()
        if b"<PubmedArticleSet" not in data or path.name.startswith("broken"):
            continue
        whole = parse_mod._frame(_full_path(data))
        pd.testing.assert_frame_equal(parse_pubmed_xml(data), whole, obj=path.name)
    nested = _REFS.replace(
        "</Reference>\n</ReferenceList>", "</Reference>\n" + _REFS + "</ReferenceList>"
    )
    xml = _set([_with_refs(1, _REFS), _with_refs(2, nested), _with_refs(3, _REFS + "\n" + _REFS)])
    df = parse_pubmed_xml(xml)
    assert list(df["pmid"]) == ["1", "2", "3"]
    assert list(df["doi"]) == ["10.1/own.1", "10.1/own.2", "10.1/own.3"]
    assert [r["doi"] for r in _full_path(xml)] == list(df["doi"])


def test_reference_lists_are_set_aside_but_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    import review.search._parse as parse_mod

    records = [_with_refs(i, _REFS) for i in range(1, 41)]
    xml = _set(records)
    fed: list[int] = []
    real = parse_mod._Chunk.add

    def spy(self: object, buf: bytes, end: int) -> None:
        fed.append(len(parse_mod._ref_lists(buf, 0, end)))
        real(self, buf, end)  # type: ignore[arg-type]

    monkeypatch.setattr(parse_mod._Chunk, "add", spy)
    assert len(parse_pubmed_xml(xml)) == 40
    assert sum(fed) == 40  # every record's list went to the checking parser, not the tree

    # A fault inside a reference list is still found, named and located.
    records[29] = _with_refs(30, _REFS.replace("</Citation>", "</Citaton>"))
    bad = _set(records)
    start = bad.index(b"</Citaton>")
    with pytest.raises(PubMedXMLError) as info:
        parse_pubmed_xml(bad)
    e = info.value
    assert e.row == bad[:start].count(b"\n") + 1
    assert "PMID 29" in str(e) and "record #30" in str(e)
    assert list(e.records["pmid"]) == [str(i) for i in range(1, 30)]


def test_markup_that_could_hide_tags_turns_the_shortcut_off() -> None:
    import review.search._parse as parse_mod

    tricky = _with_refs(7, _REFS).replace(
        "<ArticleTitle>", "<!-- <ReferenceList> --><ArticleTitle><![CDATA[x < y]]> "
    )
    data = _set([tricky]).split(b"<PubmedArticleSet>\n", 1)[1]
    assert parse_mod._ref_lists(data, 0, len(data)) == []
    df = parse_pubmed_xml(_set([tricky]))
    assert df.loc[0, "title"] == "x < y Title 7" and df.loc[0, "doi"] == "10.1/own.7"


def test_unreadable_record_in_a_chunk_with_reference_lists_keeps_its_line() -> None:
    records = [_with_refs(i, _REFS) for i in range(1, 6)]
    records[3] = (
        records[3]
        .replace("<PMID>4</PMID>", "")
        .replace('<ArticleId IdType="pubmed">4</ArticleId>', "")
    )
    xml = _set(records)
    with pytest.raises(PubMedXMLError, match=r"record #4 .*no PMID") as info:
        parse_pubmed_xml(xml)
    where = xml.index(b"<PubmedArticle>", xml.index(b"<PMID>3</PMID>"))
    assert info.value.row == xml[:where].count(b"\n") + 1
    assert list(info.value.records["pmid"]) == ["1", "2", "3"]


def test_unseekable_stream_still_names_the_record() -> None:
    # A pipe or an HTTP body cannot be re-read to count lines: the error names the record
    # and leaves the line empty rather than guessing.
    class Pipe(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self._b = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def seekable(self) -> bool:
            return False

        def readinto(self, buf: bytearray) -> int:  # type: ignore[override]
            n = self._b.readinto(buf)
            return n

    records = [_with_refs(i, _REFS) for i in range(1, 6)]
    records[2] = records[2].replace("</Citation>", "</Citaton>")
    with pytest.raises(PubMedXMLError) as info:
        parse_pubmed_xml(io.BufferedReader(Pipe(_set(records))))
    assert "record #3" in str(info.value) and "PMID 2" in str(info.value)
    assert info.value.row is None
    assert list(info.value.records["pmid"]) == ["1", "2"]


def test_each_of_several_faults_gets_its_own_line(monkeypatch: pytest.MonkeyPatch) -> None:
    # errors="collect": the newlines before each fault are counted on from the last one.
    import review.search._parse as parse_mod

    monkeypatch.setattr(parse_mod, "CHUNK", 4096)
    monkeypatch.setattr(parse_mod, "BLOCK", 1024)
    records = [_with_refs(i, _REFS) for i in range(1, 301)]
    for i in (40, 160, 280):
        records[i - 1] = _with_refs(i, _REFS.replace("</Citation>", "</Citaton>"))
    xml = _set(records)
    df = parse_pubmed_xml(xml, errors="collect")
    rows = [e.row for e in df.attrs["errors"]]
    expected = []
    start = 0
    for _ in range(3):
        at = xml.index(b"</Citaton>", start)
        expected.append(xml[:at].count(b"\n") + 1)
        start = at + 1
    assert rows == expected
    pmids = set(df["pmid"])
    assert {str(i) for i in range(1, 40)} <= pmids  # all before the first fault
    assert not {"40", "160", "280"} & pmids
