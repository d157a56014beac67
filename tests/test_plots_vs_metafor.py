"""The forest plot prints the numbers metafor's forest() prints for the same data.

Reference: ``tests/r/forest_reference.R`` (metafor 3.8-1, ``showweights = TRUE``,
``digits = 4``) -> ``tests/data/forest_reference.json``, the annotation strings exactly as
metafor draws them. Here the same data are pooled by :mod:`review.meta`, drawn by
:func:`review.plots.forest` at 4 decimals, and the drawn strings compared character for
character: every study weight, the pooled estimate and its CI, and the study estimates of
studies metafor does not continuity-correct. Study intervals are exact in review (as meta's
default) and Wald in metafor, so they are compared with R's ``binom.test`` /
``poisson.test`` intervals formatted by ``formatC`` in the same script. The script's header
lists what does not agree and why.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.text
import pandas as pd
import pytest

from review.meta import pool_proportions, pool_rates
from review.plots import forest

pytestmark = [
    pytest.mark.metafor,
    pytest.mark.filterwarnings("ignore:continuity correction:UserWarning"),
]

REF = json.loads((Path(__file__).parent / "data" / "forest_reference.json").read_text("utf-8"))
CASES = {c["name"]: c for c in REF["cases"]}


def texts(fig) -> dict[str, str]:
    return {t.get_gid(): t.get_text() for t in fig.findobj(matplotlib.text.Text) if t.get_gid()}


def test_reference_source():
    assert REF["source"]["metafor"] == "3.8.1"
    assert set(CASES) == {
        "pritz1997-PLO-REML-z",
        "pritz1997-PFT-DL-z",
        "spm-PLO-DL-z",
        "spm-PLO-REML-knha",
        "rates-IRLN-REML-z",
    }


@pytest.mark.parametrize("name", sorted(CASES))
def test_printed_numbers_match_metafor_forest(name):
    case = CASES[name]
    df = pd.DataFrame(case["data"])
    rate = case["measure"] == "IRLN"
    if rate:
        res = pool_rates(
            df,
            events="events",
            time="time",
            measure=case["measure"],
            method=case["method"],
            test=case["test"],
            label="label",
        )
    else:
        res = pool_proportions(
            df,
            events="events",
            n="n",
            measure=case["measure"],
            method=case["method"],
            test=case["test"],
            label="label",
        )
    tx = texts(forest(res, scale="perpy" if rate else "proportion", digits=4, weight_digits=4))
    labels = [str(v) for v in res.studies["label"]]
    assert labels == [s["label"] for s in case["studies"]]
    compared = 0
    for i, ref in enumerate(case["studies"]):
        assert tx[f"weight:study:{i}"] == ref["weight"] + "%", ref["label"]
        assert tx[f"ci:study:{i}"] == f"[{ref['exact_ci_low']}, {ref['exact_ci_high']}]"
        if not ref["corrected"] and case["measure"] != "PFT":
            # PFT: metafor back-transforms each study at the harmonic-mean n (transf.ipft.hm)
            assert tx[f"est:study:{i}"] == ref["estimate"], ref["label"]
            compared += 1
    assert compared >= (0 if case["measure"] == "PFT" else len(case["studies"]) - 2)
    p = case["pooled"]
    assert tx["weight:pooled:random"] == p["weight"] + "%"
    assert tx["est:pooled:random"] == p["estimate"]
    assert tx["ci:pooled:random"] == f"[{p['ci_low']}, {p['ci_high']}]"
