"""PubMed records (parsed from the real E-utilities fixtures) de-duplicated with imports.

The PubMed side is real (``../shared/fixtures/pubmed``, skipped when absent); the "Embase"
side is a synthetic RIS export written here that re-states those records the way another
database would (upper-case title, ``Last, I.`` authors, a DOI with a resolver prefix, no
PMID for some), so the two modules' schemas meet for real.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from review.dedup import deduplicate
from review.records import combine_records, read_ris

search = pytest.importorskip("review.search")


def _ris_from(pub: pd.DataFrame) -> str:
    out = []
    for k, r in enumerate(pub.itertuples(index=False)):
        lines = ["TY  - JOUR", f"T1  - {r.title.upper()}"]
        for a in r.authors[:3]:
            last, _, ini = a.rpartition(" ")
            lines.append(f"A1  - {last}, {'.'.join(ini)}." if last else f"A1  - {a}")
        if r.year is not pd.NA and r.year is not None:
            lines.append(f"Y1  - {int(r.year)}//")
        # every other record carries its DOI (with a resolver prefix) and no PMID
        if k % 2 == 0 and r.doi:
            lines.append(f"DO  - https://doi.org/{r.doi.upper()}")
        lines += ["DB  - Embase", "N1  - SYNTHETIC RE-STATEMENT OF A PUBMED RECORD", "ER  - ", ""]
        out.append("\n".join(lines))
    return "\n".join(out)


def test_pubmed_records_kept_and_imports_linked(pubmed_fixtures: Path, tmp_path: Path) -> None:
    frames = []
    for f in sorted(pubmed_fixtures.glob("*.xml")):
        try:
            frames.append(search.parse_pubmed_xml(f.read_bytes()))
        except Exception:  # esearch answers and other non-efetch files
            continue
    pub = pd.concat(frames, ignore_index=True).drop_duplicates("record_id")
    pub = pub[pub["title"].str.len() >= 20].reset_index(drop=True)
    if len(pub) < 2:
        pytest.skip("fewer than two PubMed records with a title in the fixtures")
    ris = tmp_path / "embase.ris"
    ris.write_text(_ris_from(pub), encoding="utf-8")
    emb = read_ris(ris)
    assert len(emb) == len(pub)
    recs = combine_records(pub, emb)
    res = deduplicate(recs)
    assert res.n_unique == len(pub) and res.n_duplicates == len(emb)
    # every group keeps the PubMed record and holds exactly one Embase record
    assert (res.unique["source"] == "PubMed").all()
    assert sorted(res.links["record_id"]) == sorted(emb["record_id"])
    assert set(res.links["reason"]) <= {"doi", "fuzzy"}
    by = res.by_source.set_index("source")
    assert by.loc["Embase", "duplicates_removed"] == len(emb)
    assert by.loc["PubMed", "kept"] == len(pub)
