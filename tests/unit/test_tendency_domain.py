"""Scoring tendency (evalroom.domain.tendency): the statistics by hand on small cases, and the whole analysis on
generated histories of 500 sessions (tests/tendency_world.py) with biased experts planted.

The small session, scored by hand (T1 0-10 and T2 0-20 subjective, C1 0-5 objective; four pool experts E1-E4
and a representative R of the tenderer; bidders A and B):

    bid A   T1: E1 8  E2 6  E3 6  E4 6  R 5      E1's others 6,6,6,5 → median 6   → +2   d = +0.20
            T2: E1 15 E2 12 E3 14 E4 13 R 12     others 12,14,13,12 → 12.5        → +2.5 d = +0.125
            C1: E1 5  E2 5  E3 5  E4 3  R 5
    bid B   T1: E1 5  E2 5  E3 6  E4 5  R 6      others 5,6,5,6 → 5.5             → −0.5 d = −0.05
            T2: E1 10 E2 10 E3 11 E4 9  R 12     others 10,11,9,12 → 10.5         → −0.5 d = −0.025
            C1: E1 0  E2 5  E3 5  E4 0  R 5

E1: D(A) = 4.5 / 30 = 0.15, D(B) = −1 / 30; the session's mean (0.15 − 1/30) / 2 = 7/120; the contrast for A
0.15 + 1/30 = 11/60, for B −11/60; mean |d| = (0.2 + 0.125 + 0.05 + 0.025) / 4 = 0.1; no |d| above 0.2 (0.2
itself is not above). C1: on A, E1's others agree on 5 (E1 agrees); on B, E1's others give 5, 5, 0, 5 → 5 (E1
differs). E4 differs on both; E2's and E3's others on B tie 2-2 (0 and 5), so that item is not counted for them.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import timedelta

import pytest
from tendency_world import START, history
from timebase import day

from evalroom.domain.tendency import (
    Criterion,
    Evaluator,
    ScoredSession,
    TendencyRules,
    analyse,
    benjamini_hochberg,
    binomial_upper_tail,
    leave_one_out_medians,
    pooled_t_test,
    student_t_test,
)

CRITERIA = (Criterion("T1", False, 0, 10), Criterion("T2", False, 0, 20), Criterion("C1", True, 0, 5))
SHEETS = {  # member → bid → (T1, T2, C1)
    "E1": {"A": (8, 15, 5), "B": (5, 10, 0)},
    "E2": {"A": (6, 12, 5), "B": (5, 10, 5)},
    "E3": {"A": (6, 14, 5), "B": (6, 11, 5)},
    "E4": {"A": (6, 13, 3), "B": (5, 9, 0)},
    "R": {"A": (5, 12, 5), "B": (6, 12, 5)},
}


def small_session(n: int = 0) -> ScoredSession:
    """The session of the module docstring; member ids differ per copy, the experts stay the same."""
    evaluators = tuple(Evaluator(f"{n}-{m}", None if m == "R" else m) for m in SHEETS)
    scores = {f"{n}-{m}": {bid: dict(zip(("T1", "T2", "C1"), map(float, v), strict=True)) for bid, v in bids.items()}
              for m, bids in SHEETS.items()}
    return ScoredSession(f"S{n}", day(1), CRITERIA, {"A": "A", "B": "B"}, evaluators, scores)


# --- the statistics ---------------------------------------------------------------------------------------
def test_leave_one_out_medians() -> None:
    assert leave_one_out_medians([1, 2, 3, 10]) == [3, 3, 2, 2]
    assert leave_one_out_medians([3, 1, 2]) == [1.5, 2.5, 2]
    assert leave_one_out_medians([5, 5]) == [5, 5]


@pytest.mark.parametrize(("t", "df", "p"), [(2.228139, 10, 0.05), (2.570582, 5, 0.05), (2.845340, 20, 0.01),
                                            (3.182446, 3, 0.05), (4.587, 10, 0.001)])
def test_the_t_distribution_matches_its_table(t: float, df: int, p: float) -> None:
    """Two-sided critical values from the t table: one value t with a standard deviation of 1 is a t of t."""
    assert pooled_t_test([t], 1.0, df)[2] == pytest.approx(p, rel=2e-3)


def test_a_one_sample_t_test_by_hand() -> None:
    """1, 2, 3: mean 2, sd 1, t = 2·√3; with 2 degrees of freedom the two-sided p is 1 − t / √(t² + 2)."""
    mean, t, p = student_t_test([1.0, 2.0, 3.0])
    assert (mean, t) == (2.0, pytest.approx(2 * math.sqrt(3)))
    assert p == pytest.approx(1 - t / math.sqrt(t * t + 2), rel=1e-9)
    assert student_t_test([0.5]) is None
    assert student_t_test([0.2, 0.2, 0.2])[2] == 0.0 and student_t_test([0.0, 0.0])[2] == 1.0


def test_the_binomial_tail_by_hand() -> None:
    assert binomial_upper_tail(2, 3, 0.5) == pytest.approx(0.5)  # 3/8 + 1/8
    assert binomial_upper_tail(3, 3, 0.1) == pytest.approx(0.001)
    assert binomial_upper_tail(0, 10, 0.3) == 1.0 and binomial_upper_tail(1, 10, 0.0) == 0.0
    exact = sum(math.comb(50, k) * 0.2**k * 0.8 ** (50 - k) for k in range(15, 51))
    assert binomial_upper_tail(15, 50, 0.2) == pytest.approx(exact, rel=1e-9)


def test_benjamini_hochberg_by_hand() -> None:
    """Sorted 0.01, 0.03, 0.04, 0.5 × 4/rank = 0.04, 0.06, 0.0533, 0.5; made monotone from the top."""
    assert benjamini_hochberg([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.16 / 3, 0.16 / 3, 0.5])
    assert benjamini_hochberg([]) == []


# --- the measures on the small session ----------------------------------------------------------------------
def test_each_measure_of_one_session_by_hand() -> None:
    report = analyse([small_session()])
    assert report.sessions == 1
    by = {e.expert: e for e in report.experts}
    assert sorted(by) == ["E1", "E2", "E3", "E4"]  # the representative is a reference, not analysed
    e1 = by["E1"]
    assert (e1.sessions, e1.scores, e1.items) == (1, 6, 4)
    assert e1.mean_deviation == pytest.approx(7 / 120)
    assert e1.session_deviations == pytest.approx((7 / 120,))
    assert e1.mean_abs_deviation == pytest.approx(0.1)
    assert e1.exceed_rate == 0.0
    assert (e1.objective_items, e1.objective_mismatches) == (2, 1)
    assert [(by[e].objective_items, by[e].objective_mismatches) for e in ("E2", "E3", "E4")] == [(1, 0), (1, 0), (2, 2)]
    pairs = {(p.expert, p.bidder): p for p in report.pairs}
    assert pairs[("E1", "A")].mean_deviation == pytest.approx(0.15)
    assert pairs[("E1", "A")].contrast == pytest.approx(11 / 60)
    assert pairs[("E1", "B")].contrast == pytest.approx(-11 / 60)
    # One session tests nothing and flags nobody.
    assert all(p.q is None for p in report.pairs) and not report.flagged
    assert report.objective_rate == pytest.approx(3 / 6)


def test_a_score_far_from_the_committee_counts_above_the_threshold_only() -> None:
    e1 = next(e for e in analyse([small_session()], TendencyRules(exceed_threshold=0.1)).experts if e.expert == "E1")
    assert e1.exceed_rate == pytest.approx(2 / 4)  # 0.2 and 0.125 are above 0.1


def test_repeated_sessions_flag_the_favour_and_the_objective_mismatches_by_hand() -> None:
    """Twelve copies of the session: E1's contrast is 11/60 every time (no spread: p = 0), above the 8 % floor,
    so E1 favours A — and, with two bidders, disfavours B. E4's contrast for A is also certain but small: D(A)
    = (0 + 0) / 30 (others' medians 6 and 13), D(B) = (−0.5 − 1.5) / 30, so 2/30 < 0.08: not flagged.
    Objective items: E4 differs on all 24 against the others' 12 of 48 (E1 12 of 24, E2 and E3 0 of 12):
    flagged; E1's 12 of 24 against the others' 36 − 12 of 72 − 24, the same rate: not. Lean: E1's 7/120 is
    below the 10 % floor."""
    report = analyse([small_session(n) for n in range(12)])
    by = {e.expert: e for e in report.experts}
    assert [(f.kind, f.bidder) for f in by["E1"].flags] == [("favour", "A"), ("favour", "B")]
    assert "favours" in by["E1"].flags[0].reason and "disfavours" in by["E1"].flags[1].reason
    e4a = next(p for p in report.pairs if (p.expert, p.bidder) == ("E4", "A"))
    assert e4a.contrast == pytest.approx(2 / 30) and e4a.q == 0.0 and not e4a.flagged
    assert by["E1"].objective_p == pytest.approx(binomial_upper_tail(12, 24, 0.5))
    assert [(f.kind, f.bidder) for f in by["E4"].flags] == [("objective_mismatch", None)]
    assert by["E4"].objective_p == pytest.approx(0.25**24)
    assert not by["E2"].flags and not by["E3"].flags
    assert by["E1"].lean_q is not None and by["E1"].mean_deviation < TendencyRules().lean_floor
    assert report.exceed_median is None  # fewer than 10 experts: erratic scoring is not judged


def test_a_lenient_expert_is_flagged_for_lean_when_above_the_floor() -> None:
    """E1 gives 3 points more than in the small session on every T2 (range 20): +15 % on each bid, +3/20 over
    the session mean; with some variation between sessions so the t-test has a spread."""
    sessions = []
    for n in range(12):
        s = small_session(n)
        scores = {m: {b: dict(v) for b, v in bids.items()} for m, bids in s.scores.items()}
        for bid in ("A", "B"):
            scores[f"{n}-E1"][bid]["T2"] += 3 + (n % 3)
        sessions.append(replace(s, scores=scores))
    e1 = next(e for e in analyse(sessions).experts if e.expert == "E1")
    assert [f.kind for f in e1.flags if f.kind == "lean"] == ["lean"]
    assert e1.mean_deviation == pytest.approx(7 / 120 + (3 + 1) * 2 / 60)  # (3 + n%3) over 30 points per bid, ×2/2
    assert "above the committee" in next(f.reason for f in e1.flags if f.kind == "lean")


def test_bad_input_is_refused_with_the_value_named() -> None:
    with pytest.raises(ValueError, match="fdr"):
        TendencyRules(fdr=0)
    with pytest.raises(ValueError, match="min_evaluators"):
        TendencyRules(min_evaluators=2)
    with pytest.raises(ValueError, match="max must not be below min"):
        Criterion("X", False, 5, 1)
    s = small_session()
    with pytest.raises(ValueError, match="sits twice"):
        replace(s, evaluators=(*s.evaluators, Evaluator("other", "E1")))
    with pytest.raises(ValueError, match="not on the committee"):
        replace(s, scores={**s.scores, "ghost": {}})


# --- generated histories ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def histories() -> dict[int, tuple[object, object]]:
    """Three seeded histories of 500 sessions (40 experts, 30 bidders), analysed once for the tests below."""
    out = {}
    for seed in (0, 1, 2):
        sessions, planted = history(seed)
        out[seed] = (analyse(sessions), planted)
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_planted_experts_are_flagged_with_the_right_bidder_and_no_honest_one_is(histories, seed: int) -> None:
    report, planted = histories[seed]
    assert report.sessions == 500
    flags = {e.expert: sorted((f.kind, f.bidder) for f in e.flags) for e in report.flagged}
    assert flags == {planted.favouring: [("favour", planted.favoured)],
                     planted.mismatching: [("objective_mismatch", None)],
                     planted.erratic: [("erratic", None)]}
    pair = next(p for p in report.pairs if (p.expert, p.bidder) == (planted.favouring, planted.favoured))
    assert pair.flagged and pair.contrast > 0.1 and pair.q < 1e-4
    honest = [p for p in report.pairs if p.expert not in planted.experts and p.q is not None]
    assert len(honest) > 500 and min(p.q for p in honest) > report.rules.fdr


def test_an_honest_history_flags_nobody() -> None:
    for seed in (10, 11):
        sessions, _ = history(seed, plant=False)
        report = analyse(sessions)
        assert not report.flagged, [(e.expert, e.flags) for e in report.flagged]
        assert report.objective_rate < 0.02 and len(report.experts) == 40


# --- the supervisor's report (evalroom/tendency_report.py) -------------------------------------------------
def test_the_report_shows_the_flagged_experts_in_the_csv_and_the_plots(histories) -> None:
    """Rendered from the seed-0 history with made-up names: the flagged experts are named (and marked) in both
    plots, the favoured bidder in the favour plot; the PNG has the size plot_size says; the same analysis
    renders to the same bytes."""
    import csv
    import io

    from PIL import Image

    from evalroom.services.tendency import Analysis, ExpertLabel
    from evalroom.tendency_report import plot_size, render_csv, render_plot, to_json

    report, planted = histories[0]
    labels = {e.expert: ExpertLabel(f"专家{e.expert[1:]}", f"SD-{e.expert[1:]}", "SD") for e in report.experts}
    bidders = {p.bidder: f"{p.bidder}建设有限公司" for p in report.pairs}
    # the half year the generated history lies in (3 sessions a day from START, a Monday, for 500 sessions)
    analysis = Analysis(START - timedelta(days=4), START + timedelta(days=177), "final", report, labels, bidders)

    deviation = render_plot(analysis, "deviation", "svg").decode()
    for expert, kind in ((planted.favouring, "favour"), (planted.mismatching, "objective_mismatch"),
                         (planted.erratic, "erratic")):
        assert f"{labels[expert].text} [{kind}]" in deviation
    favour = render_plot(analysis, "favour", "svg").decode()
    assert labels[planted.favouring].text in favour and bidders[planted.favoured] in favour
    assert render_plot(analysis, "favour", "svg").decode() == favour
    png = render_plot(analysis, "deviation", "png")
    with Image.open(io.BytesIO(png)) as image:
        assert image.size == plot_size(analysis, "deviation") == (1000, round((1.8 + 0.26 * 40) * 100))

    rows = list(csv.DictReader(io.StringIO(render_csv(analysis).decode("utf-8-sig"))))
    flagged = [(r["level"], r["expert_id"], r["bidder"]) for r in rows if r["flagged"] == "yes"]
    assert sorted(flagged) == sorted([("expert", planted.favouring, ""), ("expert", planted.mismatching, ""),
                                      ("expert", planted.erratic, ""), ("bidder", planted.favouring, planted.favoured)])
    favoured = next(r for r in rows if r["flags"] and r["expert_id"] == planted.favouring)
    assert favoured["flags"].startswith(f"favour {bidders[planted.favoured]}: favours this bidder")
    assert to_json(analysis)["flagged"] == sorted(planted.experts)
