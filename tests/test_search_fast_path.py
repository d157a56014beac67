"""The parser's one-pass readers give exactly what the pymed subclasses give.

``parse_pubmed_xml`` reads most records with ``article_record`` / ``book_record`` for speed;
``ReviewArticle`` / ``ReviewBookArticle`` (the pymed subclasses) remain the public surface.
Two implementations of one extraction can drift apart, so every real and synthetic record is
read both ways here and must give the same row.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from review.search._articles import (
    ReviewArticle,
    ReviewBookArticle,
    article_record,
    book_record,
)

from conftest import REPO

SYNTHETIC = [
    p
    for p in sorted((REPO / "tests" / "data" / "pubmed").glob("*.xml"))
    if p.name in ("medline-date.xml", "reference-doi.xml", "synthetic-template.xml")
]


def _records(path: Path) -> list[etree._Element]:
    root = etree.parse(str(path)).getroot()
    return [el for el in root if el.tag in ("PubmedArticle", "PubmedBookArticle")]


def _both_ways(el: etree._Element) -> tuple[dict, dict]:
    if el.tag == "PubmedArticle":
        return article_record(el), ReviewArticle(xml_element=el).to_record()
    return book_record(el), ReviewBookArticle(xml_element=el).to_record()


@pytest.mark.parametrize("path", SYNTHETIC, ids=[p.stem for p in SYNTHETIC])
def test_fast_path_equals_class_path_on_synthetic_records(path: Path) -> None:
    records = _records(path)
    assert records
    for el in records:
        fast, slow = _both_ways(el)
        assert fast == slow


def test_fast_path_equals_class_path_on_real_records(pubmed_fixtures: Path) -> None:
    n = 0
    for path in sorted(pubmed_fixtures.glob("*.xml")):
        if "esearch" in path.name:
            continue
        for el in _records(path):
            fast, slow = _both_ways(el)
            assert fast == slow, f"{path.name}: {fast.get('pmid')}"
            n += 1
    assert n >= 7  # the six fixture files hold seven articles and one book chapter


def test_fold_is_split_and_join_for_every_ascii_character_and_unicode_spaces() -> None:
    from review.search._articles import fold

    singles = [chr(i) for i in range(128)] + ["\x85", "\xa0", "\u2003", "\u2028", "\u3000"]
    for c in singles:
        for t in (c, c + c, "x" + c, c + "x", "x" + c + "y", "x " + c + "y", "x" + c + " y"):
            assert fold(t) == " ".join(t.split()), repr(t)
    for t in ("", " ", "plain text, folded", "p &lt; 0.05", "tab\there", "µg/kg\u2009dose"):
        assert fold(t) == " ".join(t.split()), repr(t)


def test_fold_on_generated_text() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from review.search._articles import fold

    @settings(max_examples=400, deadline=None)
    @given(st.text(alphabet=st.sampled_from(list("ab \t\n\r\x0b\x0c\x1c\x1f\x85\xa0µ\u2009"))))
    def check(t: str) -> None:
        assert fold(t) == " ".join(t.split())

    check()
