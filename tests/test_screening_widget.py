"""review.screening_widget: the screener driven through its widget objects; the log on disk
is what is checked."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from review.errors import OptionError
from review.protocol import load_protocol
from review.screening import ScreeningLog
from review.screening_widget import Screener, highlight

PROTOCOL = Path(__file__).parent / "data" / "protocol_minimal.yaml"


@pytest.fixture
def protocol():
    return load_protocol(PROTOCOL)


@pytest.fixture
def records():
    return pd.DataFrame(
        {
            "record_id": ["pubmed:1", "pubmed:2", "pubmed:3", "pubmed:4"],
            "title": [
                "Second primary malignancies after CAR-T cell therapy",
                "A murine model of CAR-T persistence",
                "T-cell lymphoma after ciltacabtagene: case report",
                "Long-term follow-up of axicabtagene ciloleucel",
            ],
            "abstract": [
                "BACKGROUND: Malignancies after CAR-T.\n\nMETHODS: Cohort of 449 patients.",
                "Mouse experiments.",
                None,
                "We report <5-year> outcomes & safety.",
            ],
            "journal": ["Blood", "Nature", "NEJM", "Lancet"],
            "year": pd.array([2024, 2023, 2024, 2025], dtype="Int64"),
        }
    )


@pytest.fixture
def log(tmp_path, protocol):
    return ScreeningLog(tmp_path / "screening" / "log.jsonl", protocol=protocol)


def _disk(log):
    return [json.loads(x) for x in log.path.read_text().splitlines()]


def test_buttons_write_decisions_to_the_log(records, log, protocol):
    s = Screener(records, log, "A", "title_abstract", protocol)
    assert s.current_id == "pubmed:1"
    s.include_button.click()
    assert s.current_id == "pubmed:2"
    s.exclude_button.click()
    s.maybe_button.click()
    rows = _disk(log)
    assert [(r["record_id"], r["decision"], r["reviewer"], r["stage"]) for r in rows] == [
        ("pubmed:1", "include", "A", "title_abstract"),
        ("pubmed:2", "exclude", "A", "title_abstract"),
        ("pubmed:3", "maybe", "A", "title_abstract"),
    ]
    assert s.current_id == "pubmed:4"
    assert "3 / 4 screened" in s.progress_html.value
    assert s.progress_bar.value == 3 and s.progress_bar.max == 4


def test_keyboard_shortcut_box(records, log, protocol):
    s = Screener(records, log, "B", "title_abstract", protocol)
    s.keys.value = "i"  # a key press in the shortcut box acts at once
    assert s.keys.value == ""  # and the box clears itself
    s.keys.value = "3"  # pick reason 3 ...
    assert s.reason.value == "wrong_design"
    s.keys.value = "e"  # ... then exclude
    s.keys.value = "m"
    s.keys.value = "u"  # undo the maybe: pubmed:3 comes back
    assert s.current_id == "pubmed:3"
    s.keys.value = "x"
    assert "unknown shortcut" in s.message.value
    rows = _disk(log)
    assert [r["decision"] for r in rows] == ["include", "exclude", "maybe", "undo"]
    assert rows[1]["reason"] == "wrong_design"
    assert rows[3]["record_id"] == "pubmed:3"


def test_full_text_exclusion_requires_reason(records, log, protocol):
    s = Screener(records, log, "A", "full_text", protocol)
    s.exclude_button.click()  # no reason picked: refused, shown, nothing written
    assert "needs a reason" in s.message.value
    assert log.path.read_bytes() == b""
    assert s.current_id == "pubmed:1"
    s.reason.value = "not_retrieved"
    s.note.value = "publisher paywall, ILL failed"
    s.exclude_button.click()
    (row,) = _disk(log)
    assert row["decision"] == "exclude" and row["reason"] == "not_retrieved"
    assert row["note"] == "publisher paywall, ILL failed"
    assert s.reason.value is None and s.note.value == ""  # reset for the next record
    with pytest.raises(OptionError):
        s.decide("exclude")


def test_undo_button_appends_row_and_brings_record_back(records, log, protocol):
    s = Screener(records, log, "A", "title_abstract", protocol)
    s.include_button.click()
    s.exclude_button.click()
    s.undo_button.click()
    assert s.current_id == "pubmed:2"
    assert [r["decision"] for r in _disk(log)] == ["include", "exclude", "undo"]
    assert "2 / 4" not in s.progress_html.value and "1 / 4 screened" in s.progress_html.value
    s.undo_button.click()
    s.undo_button.click()  # nothing left to undo: refused, shown
    assert "no standing decision" in s.message.value
    assert s.current_id == "pubmed:1"


def test_resumes_where_the_reviewer_stopped(records, log, protocol):
    s = Screener(records, log, "A", "title_abstract", protocol)
    s.decide("include")
    s.decide("exclude")
    log.record("pubmed:3", reviewer="B", decision="include")  # another reviewer: blinded
    again = Screener(
        records, ScreeningLog(log.path, protocol=protocol), "A", "title_abstract", protocol
    )
    assert again.current_id == "pubmed:3"
    assert again.progress.n_screened == 2
    other = Screener(records, log, "B", "title_abstract", protocol)
    assert other.current_id == "pubmed:1"


def test_scripted_screening_to_the_end(records, log, protocol):
    s = Screener(records, log, "A", "title_abstract", protocol, order=["pubmed:4", "pubmed:2"])
    seen = []
    while s.current_id is not None:
        seen.append(s.current_id)
        s.decide("exclude" if "murine" in s.current_record["title"] else "include")
    assert seen == ["pubmed:4", "pubmed:2", "pubmed:1", "pubmed:3"]
    assert "All records screened" in s.record_html.value
    assert s.include_button.disabled
    fin = log.final("title_abstract").set_index("record_id")
    assert fin.loc["pubmed:2", "decision"] == "exclude"
    assert fin["decision"].tolist().count("include") == 3


def test_record_display_has_everything_and_highlights(records, log, protocol):
    s = Screener(records, log, "A", "title_abstract", protocol)
    page = s.record_html.value
    assert "Blood" in page and "2024" in page and "pubmed:1" in page
    assert "<b>BACKGROUND:</b>" in page and "Cohort of 449 patients" in page
    assert '<mark class="review-include"' in page  # CAR-T, malignan*
    s.decide("include")
    assert '<mark class="review-exclude"' in s.record_html.value  # murine
    s.decide("exclude")
    s.decide("exclude")
    assert "&lt;5-year&gt; outcomes &amp; safety" in s.record_html.value  # escaped, whole


def test_relevance_order_and_stopping_line(records, log, protocol):
    s = Screener(records, log, "A", "title_abstract", protocol, order="relevance")
    assert s.current_id == "pubmed:1"  # nothing learnt yet: original order
    s.decide("include")
    s.decide("exclude")  # now both classes: the model reorders the rest
    assert s.current_id in {"pubmed:3", "pubmed:4"}
    assert "stopping test" in s.progress_html.value


def test_highlight_terms():
    out = highlight(
        "T-cell lymphoma, a review in mice", ["T-cell lymphoma", "lymphoma"], ["review"]
    )
    assert out.count('class="review-include"') == 1  # the longer term wins, once
    assert ">T-cell lymphoma</mark>" in out
    assert ">review</mark>" in out
    assert "mice" in out and highlight(None) == ""
    assert highlight("a < b", [], []) == "a &lt; b"


def test_invalid_arguments(records, log, protocol):
    with pytest.raises(OptionError):
        Screener(records, log, "consensus", "title_abstract", protocol)
    with pytest.raises(OptionError):
        Screener(records, log, "A", "abstract", protocol)
    with pytest.raises(OptionError):
        Screener(records, log, "A", "title_abstract", protocol, order="random")


def test_highlight_hyphen_or_space_between_words():
    for text in ("T-cell lymphoma", "T cell lymphoma", "Tcell lymphoma"):
        assert highlight(text, ["T-cell lymphoma"]).startswith('<mark class="review-include"')
    assert "<mark" in highlight("CAR T cells", ["CAR-T"])
    assert "<mark" not in highlight("scar tissue", ["CAR-T"])  # only at a word start


def test_screener_displays_as_its_widget(records, log, protocol):
    s = Screener(records, log, "A", "title_abstract", protocol)
    bundle = s._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == s.widget.model_id
    assert "0 / 4 screened by A" in repr(s)
