"""review.appraisal_widget: the assessor driven through its widget objects; the log on disk
is what is checked."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from review.appraisal import AppraisalLog, load_tool
from review.appraisal_widget import Assessor
from review.errors import OptionError

STUDIES = pd.DataFrame(
    {
        "study_id": ["s1", "s2"],
        "label": ["Smith 2020 (registry)", "Jones 2021 <single centre> & co"],
        "design": ["real_world", "trial"],
        "pmid": ["111", "222"],
        "note": ["", "a note about the study"],
    }
)


@pytest.fixture
def log(tmp_path):
    return AppraisalLog(
        tmp_path / "appraisal" / "log.jsonl",
        tool=load_tool("jbi_prevalence"),
        assessors=["A", "B"],
        studies=STUDIES,
    )


def _disk(log):
    return [json.loads(x) for x in log.path.read_text().splitlines()] if log.path.exists() else []


def test_buttons_write_answers_with_their_support_and_move_on(log):
    a = Assessor(log, "A", STUDIES)
    assert a.current == ("s1", "q1")
    assert "Smith 2020 (registry)" in a.study_html.value and "real_world" in a.study_html.value
    assert "sample frame" in a.item_html.value and "<li>" in a.item_html.value  # guidance
    assert list(a.answer_buttons) == ["yes", "no", "unclear", "not_applicable"]
    a.quote.value = "all 449 patients treated at the centre"
    a.location.value = "Abstract, Methods"
    a.answer_buttons["yes"].click()
    assert a.current == ("s1", "q2")
    assert a.quote.value == "" and a.location.value == ""  # fields cleared for the next item
    a.note.value = "the abstract does not say how patients were selected"
    a.answer_buttons["unclear"].click()
    rows = _disk(log)
    assert [(r["study_id"], r["item"], r["reviewer"], r["answer"]) for r in rows] == [
        ("s1", "q1", "A", "yes"),
        ("s1", "q2", "A", "unclear"),
    ]
    assert rows[0]["quote"] == "all 449 patients treated at the centre"
    assert rows[0]["location"] == "Abstract, Methods"
    assert rows[1]["note"].startswith("the abstract")
    assert "2 / 18 answered" in a.progress_html.value


def test_an_answer_without_support_is_refused_on_screen_and_nothing_written(log):
    a = Assessor(log, "A", STUDIES)
    a.answer_buttons["no"].click()
    assert "needs its support" in a.message.value
    assert a.current == ("s1", "q1") and _disk(log) == []
    a.quote.value = "a quote"
    a.answer_buttons["no"].click()
    assert "needs its location" in a.message.value and _disk(log) == []


def test_keyboard_shortcut_box(log):
    a = Assessor(log, "B", STUDIES)
    a.note.value = "not reported"
    a.keys.value = "u"  # the tool's key for 'unclear'
    assert a.keys.value == ""
    assert a.current == ("s1", "q2")
    a.note.value = "not reported"
    a.keys.value = "3"  # the third option: unclear
    a.keys.value = "j"  # skip q3
    assert a.current == ("s1", "q4")
    a.keys.value = "k"
    assert a.current == ("s1", "q3")
    a.keys.value = "s"
    assert a.current == ("s2", "q1")
    a.keys.value = "z"
    assert "unknown shortcut" in a.message.value
    assert [(r["item"], r["answer"]) for r in _disk(log)] == [("q1", "unclear"), ("q2", "unclear")]


def test_resumes_where_the_assessor_stopped_and_is_blinded(log):
    log.record("s1", "q1", "no", reviewer="B", note="B's view")
    a = Assessor(log, "A", STUDIES)
    assert a.current == ("s1", "q1")  # B's answer is not A's
    assert "B's view" not in a.item_html.value + a.note.value
    for _ in range(3):
        a.answer("yes", note="n")
    b = Assessor(log, "A", STUDIES)
    assert b.current == ("s1", "q4")
    b.go("s1", "q2")
    assert "Your answer: <b>Yes</b>" in b.item_html.value and b.note.value == "n"
    assert b.answer_buttons["yes"].button_style == "info"


def test_to_the_next_study_and_done(log):
    a = Assessor(log, "A")
    for _ in range(9):
        a.answer("yes", note="n")
    assert a.current == ("s2", "q1")
    assert "Jones 2021 &lt;single centre&gt; &amp; co" in a.study_html.value  # escaped
    for _ in range(9):
        a.answer("no", note="n")
    assert "every item of every study" in a.message.value
    assert len(_disk(log)) == 18
    assert log.judgements().table["overall"].tolist() == ["low", "high"]


def test_judged_overall_offers_the_levels(tmp_path):
    log = AppraisalLog(tmp_path / "l.jsonl", tool=load_tool("hoy2012"), studies=["s1"])
    a = Assessor(log, "A")
    for _ in range(10):
        a.answer("low", note="n")
    assert a.current == ("s1", "overall")
    assert list(a.answer_buttons) == ["low", "moderate", "high"]
    a.answer_buttons["moderate"].click()
    assert "needs its support" in a.message.value
    a.answer("moderate", note="one region only")
    assert log.judgements().table.loc[0, "overall"] == "moderate"


def test_bad_reviewers(log):
    with pytest.raises(OptionError, match="consensus"):
        Assessor(log, "consensus")
    with pytest.raises(OptionError, match="not an assessor"):
        Assessor(log, "Z")
