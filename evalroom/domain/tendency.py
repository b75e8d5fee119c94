"""Scoring tendency (打分倾向) across sessions: how far each pool expert's scores stand from their committees'.

What it is for: after many evaluations, a supervisor asks which experts habitually score apart from their
committees, favour or disfavour a particular bidder, or disagree on objective items that everyone should score
alike. This module answers from scored sessions alone; it finds *leads* for a supervisor to look into, never a
finding of misconduct (docs/analysis.md says what a flag means and does not).

Input: :class:`ScoredSession` values (the adapter, services/tendency.py, reads them from the database; the tests
generate them). Output: a :class:`TendencyReport` with a row per expert and per expert × bidder pair. Nothing here
reads a clock, a database or the network.

Arithmetic: statistics are IEEE double floats (``float``), not Decimals: the inputs are exact two-place scores,
but means, standard deviations and p-values are estimates, and nothing computed here is paid or ranked. The
regularised incomplete beta function (for Student's t and the binomial tail) is computed here from its
continued fraction, so the module needs only the standard library.

The measures (the thresholds are :class:`TendencyRules`, with why each default was chosen):

Deviation of one score
    ``d = (x − m) / (max − min)``: the expert's score ``x`` minus the median ``m`` of the *other* members' scores
    for the same bid and criterion (leave-one-out), over the criterion's range. The others' median rather than
    the mean, because a biased member would otherwise drag the mean and make everyone beside them look biased
    the other way; leave-one-out, because an expert's own score must not pull the reference towards itself.
    Subjective criteria only; objective ones are compared for agreement (below).

Deviation of a bid (the unit of the tests)
    ``D = Σ (x − m) / Σ (max − min)`` over the bid's subjective criteria: how far the expert's subjective
    subtotal stands from the committee's, as a fraction of the subtotal's range. A bid's items share the
    expert's view of that bid, so they are not independent evidence; sessions are.

Systematic deviation (lenient / harsh)
    Per session, the mean of the expert's bid deviations; a one-sample Student t-test of those session means
    against 0, Benjamini–Hochberg over the experts tested.

Favour for a bidder
    Bidders are the same organisation across sessions (the adapter keys them by organisation name). In each
    session where the expert scored bidder *k* and at least one other bidder, the *contrast*
    ``c = D(k) − mean of D(j), j ≠ k``: how much more the expert deviated upwards on *k* than on the others in
    the same session. The contrast removes the expert's general leniency and that session's mood, so only a
    bidder-specific tendency is left. A t-test of the contrasts against 0 (two-sided: disfavour is a tendency
    too) with the expert's spread pooled over all their bidders (:func:`_pooled_spread` says why),
    Benjamini–Hochberg over every expert × bidder pair with enough sessions.

Erratic scoring
    The share of the expert's subjective scores with ``|d|`` above a threshold, compared with the other experts:
    robust z-score against the median and the median absolute deviation of all experts' shares.

Objective-item mismatches
    For each objective item, the expert's score against the single most common score of the *other* members
    (none when two values tie: then the item is not counted). The expert's mismatch count is tested against
    the mismatch rate of all other experts with an exact binomial upper tail, Benjamini–Hochberg over experts.

A flag needs both a small q-value (false discoveries controlled at ``fdr``) and an effect larger than a floor:
with thousands of scores, a statistically certain effect can still be too small to matter, or come from an
honest expert who happens to sit often beside a biased one.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

__all__ = [
    "Criterion",
    "Evaluator",
    "ExpertTendency",
    "PairTendency",
    "ScoredSession",
    "TendencyFlag",
    "TendencyReport",
    "TendencyRules",
    "analyse",
    "benjamini_hochberg",
    "binomial_upper_tail",
    "leave_one_out_medians",
    "pooled_t_test",
    "student_t_test",
]


# --- input ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Criterion:
    """A scored item of a session's project."""

    code: str
    objective: bool
    """Objective items (facts in the bid) must get the same score from everyone (shared/domain.md)."""
    low: float
    high: float

    def __post_init__(self) -> None:
        if not self.high >= self.low:
            raise ValueError(f"criterion {self.code!r}: max must not be below min (got {self.low}..{self.high})")

    @property
    def span(self) -> float:
        return self.high - self.low


@dataclass(frozen=True)
class Evaluator:
    """One member of a session's committee."""

    member: str
    """The member's id in that session (what the sheets are keyed by)."""
    expert: str | None
    """The pool expert behind the member, the same across sessions; None for a representative of the tenderer,
    whose scores count in the committee's reference but who is not analysed (not the pool's)."""


@dataclass(frozen=True)
class ScoredSession:
    """One evaluated session: its committee's final (or first-submitted) detailed-review scores."""

    session_id: str
    held_on: date
    """The (local) date the session ended; for the report, not used by the statistics."""
    criteria: tuple[Criterion, ...]
    bidders: Mapping[str, str]
    """Bid key → the bidder's identity across sessions (one bidder may have several bids, one per lot)."""
    evaluators: tuple[Evaluator, ...]
    scores: Mapping[str, Mapping[str, Mapping[str, float]]]
    """Member id → bid key → criterion code → score. A missing value leaves that member out of that item."""

    def __post_init__(self) -> None:
        members = [e.member for e in self.evaluators]
        experts = [e.expert for e in self.evaluators if e.expert is not None]
        if len(set(members)) != len(members):
            raise ValueError(f"session {self.session_id!r}: a member is listed twice")
        if len(set(experts)) != len(experts):
            raise ValueError(f"session {self.session_id!r}: an expert sits twice on one committee")
        unknown = sorted(set(self.scores) - set(members))
        if unknown:
            raise ValueError(f"session {self.session_id!r}: scores of members not on the committee: {unknown}")


# --- rules ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TendencyRules:
    """The thresholds, with the reasons for their defaults (docs/analysis.md repeats them)."""

    min_evaluators: int = 3
    """An item is compared only when at least this many members scored it: the reference is the median of at
    least two others. Committees have 5 or more (3 for negotiation panels)."""
    exceed_threshold: float = 0.20
    """A score is *far* from the committee when ``|d|`` exceeds 20 % of the criterion's range: about two and a
    half times the spread of honest experts' scores around their committee's median in practice (the generated
    histories use 7-9 %), and well inside the ±30 % on a whole subtotal that the live check flags."""
    fdr: float = 0.05
    """Benjamini–Hochberg false-discovery rate within each family of tests (lean, favour, objective): of the
    flags of a family, at most 5 % are expected to be false, however many experts and bidders are tested."""
    min_sessions: int = 10
    """An expert is tested for lean, erratic scoring and objective mismatches only after this many sessions:
    fewer do not tell a habit from a bad day."""
    min_pair_sessions: int = 5
    """An expert × bidder pair is tested only when the expert scored that bidder (beside another bidder) in at
    least 5 sessions: below that, a t-test's tails are too wide to survive the correction anyway, and every
    pair tested costs the others power."""
    lean_floor: float = 0.10
    """A lean is flagged only when the expert's mean deviation is at least 10 % of the range: honest experts
    differ in strictness by a few percent, which is not what a supervisor looks for."""
    favour_floor: float = 0.08
    """Favour is flagged only when the mean contrast is at least 8 % of the range. An honest expert who often
    sits beside one who favours a bidder shows a small opposite contrast (the median moves a little); the
    floor keeps that out, while a favour worth a supervisor's time (a tenth of the points or more) passes."""
    erratic_z: float = 4.0
    """An expert's share of far scores is flagged at 4 robust standard deviations above the experts' median
    (and at ``erratic_ratio`` times that median). Under a normal spread this would be one expert in 30,000,
    but honest experts' shares are skewed: one whose noise is half as large again as another's has twice as
    many far scores. The generated honest pools reach z = 3.8 at most over 25 histories, hence both bounds."""
    erratic_ratio: float = 2.0
    """... and the share must be at least twice the median expert's: honest pools reach 1.8 times."""
    erratic_min_scale: float = 0.01
    """The robust standard deviation of the shares is taken as at least 1 percentage point, so that a very
    homogeneous pool does not flag an expert for a difference of a point or two."""
    min_pool_experts: int = 10
    """Erratic scoring is judged against the other experts only when at least 10 are tested."""
    objective_floor: float = 0.05
    """Objective mismatches are flagged only when the expert's rate exceeds the other experts' by at least 5
    percentage points: typing errors happen to everyone, at rates that differ a little between people."""
    min_objective_items: int = 20
    """An expert is tested for objective mismatches only after this many compared objective items."""

    def __post_init__(self) -> None:
        if self.min_evaluators < 3:
            raise ValueError(f"'min_evaluators' must be at least 3 (got {self.min_evaluators})")
        if not 0 < self.fdr < 1:
            raise ValueError(f"'fdr' must be between 0 and 1 (got {self.fdr})")
        if self.min_sessions < 2 or self.min_pair_sessions < 2:
            raise ValueError("a t-test needs at least 2 sessions")


# --- output -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TendencyFlag:
    kind: str
    """``lean``, ``favour``, ``erratic`` or ``objective_mismatch``."""
    reason: str
    """What was found, with the figures, in one sentence."""
    bidder: str | None = None
    """The bidder of a ``favour`` flag."""


@dataclass(frozen=True)
class PairTendency:
    """One expert's tendency for one bidder."""

    expert: str
    bidder: str
    sessions: int
    """Sessions where the expert scored this bidder beside at least one other."""
    mean_deviation: float
    """Mean bid deviation ``D`` on this bidder's bids."""
    contrast: float
    """Mean of the per-session contrast ``D(bidder) − mean D(others)``."""
    t: float | None
    p: float | None
    q: float | None
    """Benjamini–Hochberg adjusted p-value over the pairs tested; None when not tested (too few sessions)."""
    flagged: bool


@dataclass(frozen=True)
class ExpertTendency:
    expert: str
    sessions: int
    """Sessions sat with at least one compared score."""
    scores: int
    """Every score the expert gave in those sessions."""
    items: int
    """Subjective scores compared with the committee."""
    mean_deviation: float
    """Mean over sessions of the expert's per-session mean bid deviation (signed, fraction of range)."""
    mean_abs_deviation: float
    """Mean ``|d|`` over the compared subjective scores."""
    exceed_rate: float
    """Share of the compared subjective scores with ``|d|`` above ``exceed_threshold``."""
    exceed_z: float | None
    lean_t: float | None
    lean_p: float | None
    lean_q: float | None
    objective_items: int
    objective_mismatches: int
    objective_p: float | None
    objective_q: float | None
    flags: tuple[TendencyFlag, ...]
    session_deviations: tuple[float, ...] = field(repr=False)
    """The per-session means (the distribution the plots show), in session order."""

    @property
    def objective_rate(self) -> float:
        return self.objective_mismatches / self.objective_items if self.objective_items else 0.0


@dataclass(frozen=True)
class TendencyReport:
    rules: TendencyRules
    sessions: int
    """Sessions analysed."""
    experts: tuple[ExpertTendency, ...]
    """By expert id."""
    pairs: tuple[PairTendency, ...]
    """Every expert × bidder pair seen, by expert then bidder."""
    objective_rate: float
    """The mismatch rate of objective items over every analysed expert."""
    exceed_median: float | None
    """The median share of far scores among the experts tested (the erratic reference)."""

    @property
    def flagged(self) -> tuple[ExpertTendency, ...]:
        return tuple(e for e in self.experts if e.flags)


# --- statistics -------------------------------------------------------------------------------------------
def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz's method)."""
    tiny, eps = 1e-300, 1e-15
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        # The even step, then the odd step, of the fraction's terms.
        for num in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                    -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < eps:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = a * math.log(x) + b * math.log1p(-x) + math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    front = math.exp(log_front)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_fraction(a, b, x) / a
    return 1.0 - front * _beta_fraction(b, a, 1.0 - x) / b


def student_t_test(values: Sequence[float]) -> tuple[float, float, float] | None:
    """One-sample two-sided t-test of ``values`` against 0: (mean, t, p); None for fewer than 2 values. With
    no spread at all, p is 0 for a non-zero mean (t infinite) and 1 for a zero mean."""
    n = len(values)
    if n < 2:
        return None
    mean = math.fsum(values) / n
    var = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    if var <= 1e-24:
        return (mean, math.copysign(math.inf, mean), 0.0) if abs(mean) > 1e-12 else (mean, 0.0, 1.0)
    t = mean / math.sqrt(var / n)
    df = n - 1
    return mean, t, _betainc(df / 2.0, 0.5, df / (df + t * t))


def pooled_t_test(values: Sequence[float], sd: float, df: int) -> tuple[float, float, float]:
    """Two-sided t-test of the mean of ``values`` against 0 with a standard deviation ``sd`` estimated
    elsewhere on ``df`` degrees of freedom (a pooled estimate): (mean, t, p)."""
    n = len(values)
    mean = math.fsum(values) / n
    if sd <= 1e-12:
        return (mean, math.copysign(math.inf, mean), 0.0) if abs(mean) > 1e-12 else (mean, 0.0, 1.0)
    t = mean / (sd / math.sqrt(n))
    return mean, t, _betainc(df / 2.0, 0.5, df / (df + t * t))


def binomial_upper_tail(k: int, n: int, p: float) -> float:
    """P(X ≥ k) for X ~ Binomial(n, p)."""
    if k <= 0:
        return 1.0
    if k > n or p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    return _betainc(float(k), float(n - k + 1), p)


def benjamini_hochberg(pvalues: Sequence[float]) -> list[float]:
    """Benjamini–Hochberg adjusted p-values (q-values), in the order given: a test is a discovery at false
    discovery rate α when its q ≤ α."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    out = [1.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, pvalues[i] * m / rank)
        out[i] = min(running, 1.0)
    return out


def leave_one_out_medians(values: Sequence[float]) -> list[float]:
    """For each value, the median of all the *other* values (at least two values).

    Sorted once: without the value at sorted position ``pos``, the others' rank ``r`` is position ``r`` below
    ``pos`` and ``r + 1`` from it on."""
    n = len(values)
    order = sorted(range(n), key=values.__getitem__)
    ranked = [values[i] for i in order]
    half = (n - 1) // 2
    out = [0.0] * n
    if (n - 1) % 2:  # an odd number of others: the middle one
        for pos, i in enumerate(order):
            out[i] = ranked[half] if half < pos else ranked[half + 1]
    else:  # an even number: the mean of the two middle ones, ranks half - 1 and half
        for pos, i in enumerate(order):
            low = ranked[half - 1] if half - 1 < pos else ranked[half]
            high = ranked[half] if half < pos else ranked[half + 1]
            out[i] = (low + high) / 2.0
    return out


def _mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values) if values else 0.0


def _median(values: Sequence[float]) -> float:
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2.0


# --- the analysis -----------------------------------------------------------------------------------------
@dataclass
class _ExpertAcc:
    sessions: int = 0
    scores: int = 0
    items: int = 0
    abs_sum: float = 0.0
    exceed: int = 0
    session_means: list[float] = field(default_factory=list)
    objective_items: int = 0
    objective_mismatches: int = 0


def _others_mode(counts: Mapping[float, int], own: float) -> float | None:
    """The single most common value among the others, given every member's counts and one's own value."""
    best, top, tied = None, 0, False
    for value, n in counts.items():
        n -= value == own
        if n > top:
            best, top, tied = value, n, False
        elif n == top and n > 0:
            tied = True
    return None if tied else best


def _session(s: ScoredSession, rules: TendencyRules, acc: dict[str, _ExpertAcc],
             pairs: dict[tuple[str, str], list[tuple[float, float]]]) -> None:
    # The inner loops run once per score (millions in a long period): members are indexed once per session,
    # and each expert's accumulator is looked up once.
    experts = {e.member: e.expert for e in s.evaluators if e.expert is not None}
    members = [e.member for e in s.evaluators if e.member in s.scores]
    sheets = [s.scores[m] for m in members]
    accs = [acc[experts[m]] if m in experts else None for m in members]
    bids = sorted({b for sheet in sheets for b in sheet} & set(s.bidders))
    # Per member and bid: Σ (x − m) and Σ range over the bid's compared subjective items.
    offs: list[dict[str, list[float]]] = [{} for _ in members]
    seen = [False] * len(members)
    threshold, least = rules.exceed_threshold, rules.min_evaluators
    for bid in bids:
        rows = [sheet.get(bid) for sheet in sheets]
        for c in s.criteria:
            code = c.code
            who, values = [], []
            for i, row in enumerate(rows):
                if row is not None and (v := row.get(code)) is not None:
                    who.append(i)
                    values.append(v)
            if len(values) < least:
                continue
            if c.objective:
                counts = Counter(values)
                for i, value in zip(who, values, strict=True):
                    a = accs[i]
                    if a is None:
                        continue
                    mode = _others_mode(counts, value)
                    if mode is None:
                        continue
                    a.objective_items += 1
                    a.objective_mismatches += value != mode
                    seen[i] = True
                continue
            span = c.span
            if span <= 0:
                continue
            for i, value, ref in zip(who, values, leave_one_out_medians(values), strict=True):
                a = accs[i]
                if a is None:
                    continue
                diff = value - ref
                d = abs(diff) / span
                a.items += 1
                a.abs_sum += d
                if d > threshold:
                    a.exceed += 1
                sums = offs[i].get(bid)
                if sums is None:
                    sums = offs[i][bid] = [0.0, 0.0]
                sums[0] += diff
                sums[1] += span
                seen[i] = True
    off = {members[i]: offs[i] for i in range(len(members))}
    compared = {members[i] for i in range(len(members)) if seen[i]}
    for member in sorted(compared):
        expert = experts[member]
        a = acc[expert]
        a.sessions += 1
        a.scores += sum(len(items) for items in s.scores[member].values())
        by_bid = {bid: total / span for bid, (total, span) in off[member].items() if span > 0}
        if not by_bid:
            continue
        a.session_means.append(_mean(list(by_bid.values())))
        by_bidder: dict[str, list[float]] = defaultdict(list)
        for bid, dev in by_bid.items():
            by_bidder[s.bidders[bid]].append(dev)
        if len(by_bidder) < 2:
            continue
        bidder_dev = {k: _mean(v) for k, v in by_bidder.items()}
        for bidder, dev in bidder_dev.items():
            others = [v for k, v in bidder_dev.items() if k != bidder]
            pairs[(expert, bidder)].append((dev, dev - _mean(others)))


def _pooled_spread(pair_obs: Mapping[tuple[str, str], Sequence[tuple[float, float]]]
                   ) -> dict[str, tuple[float, int]]:
    """Per expert, the standard deviation of their contrasts around each bidder's own mean, pooled over all
    the expert's bidders (the residual of a one-way analysis of variance), with its degrees of freedom.

    Why pooled: one bidder meets one expert in a dozen sessions of a 500-session history; a t-test on a dozen
    values has wide tails, and after the correction over a thousand pairs it would miss a real favour. How
    much an expert's contrasts scatter is the expert's own (their noise, not the bidder's), so all their
    sessions estimate it; taken around each bidder's mean, a favoured bidder's shift does not inflate it.
    Experts with fewer than 10 degrees of freedom are not tested."""
    sums: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for (expert, _bidder), obs in pair_obs.items():
        contrasts = [c for _, c in obs]
        mean = _mean(contrasts)
        acc = sums[expert]
        acc[0] += math.fsum((c - mean) ** 2 for c in contrasts)
        acc[1] += len(contrasts) - 1
    return {e: (math.sqrt(ss / df), int(df)) for e, (ss, df) in sums.items() if df >= 10}


def _pct(x: float) -> str:
    return f"{x * 100:+.1f}%"


def analyse(sessions: Iterable[ScoredSession], rules: TendencyRules | None = None) -> TendencyReport:
    """The tendency of every pool expert over ``sessions`` (see the module docstring for the measures)."""
    rules = rules or TendencyRules()
    acc: dict[str, _ExpertAcc] = defaultdict(_ExpertAcc)
    pair_obs: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    count = 0
    for s in sessions:
        count += 1
        _session(s, rules, acc, pair_obs)
    ids = sorted(e for e, a in acc.items() if a.sessions)
    flags: dict[str, list[TendencyFlag]] = {e: [] for e in ids}

    # Lean: one t-test per expert with enough sessions, BH over them.
    lean: dict[str, tuple[float, float, float]] = {}
    for e in ids:
        if len(acc[e].session_means) >= rules.min_sessions:
            result = student_t_test(acc[e].session_means)
            if result is not None:
                lean[e] = result
    lean_q = dict(zip(lean, benjamini_hochberg([r[2] for r in lean.values()]), strict=True))
    for e, (mean, _t, p) in lean.items():
        if lean_q[e] <= rules.fdr and abs(mean) >= rules.lean_floor:
            word = "above" if mean > 0 else "below"
            flags[e].append(TendencyFlag("lean", f"scores {word} the committee's median by {_pct(mean)} of the range "
                                                 f"on average over {len(acc[e].session_means)} sessions "
                                                 f"(p={p:.2g}, q={lean_q[e]:.2g})"))

    # Favour: one t-test of the contrasts per expert × bidder pair with enough sessions, BH over all of them.
    spread = _pooled_spread(pair_obs)
    tested = {}
    for key, obs in pair_obs.items():
        if len(obs) >= rules.min_pair_sessions and key[0] in spread:
            tested[key] = pooled_t_test([c for _, c in obs], *spread[key[0]])
    pair_q = dict(zip(tested, benjamini_hochberg([r[2] for r in tested.values()]), strict=True))
    pairs: list[PairTendency] = []
    for key in sorted(pair_obs):
        expert, bidder = key
        obs = pair_obs[key]
        r = tested.get(key)
        contrast = _mean([c for _, c in obs])
        hit = r is not None and pair_q[key] <= rules.fdr and abs(contrast) >= rules.favour_floor
        pairs.append(PairTendency(expert, bidder, len(obs), _mean([d for d, _ in obs]), contrast,
                                  r[1] if r else None, r[2] if r else None, pair_q.get(key), hit))
        if hit and r is not None:
            word = "favours" if contrast > 0 else "disfavours"
            flags[expert].append(TendencyFlag("favour", f"{word} this bidder: {_pct(contrast)} of the range against "
                                                        f"the other bidders of the same sessions, over {len(obs)} "
                                                        f"sessions (p={r[2]:.2g}, q={pair_q[key]:.2g})", bidder))

    # Erratic: robust z of the share of far scores among the experts with enough sessions.
    rates = {e: acc[e].exceed / acc[e].items for e in ids
             if acc[e].items and len(acc[e].session_means) >= rules.min_sessions}
    exceed_z: dict[str, float] = {}
    exceed_median = None
    if len(rates) >= rules.min_pool_experts:
        exceed_median = _median(list(rates.values()))
        scale = max(1.4826 * _median([abs(r - exceed_median) for r in rates.values()]), rules.erratic_min_scale)
        for e, rate in rates.items():
            exceed_z[e] = (rate - exceed_median) / scale
            if exceed_z[e] >= rules.erratic_z and rate >= rules.erratic_ratio * exceed_median:
                flags[e].append(TendencyFlag("erratic", f"{rate:.1%} of subjective scores lie more than "
                                                        f"{rules.exceed_threshold:.0%} of the range from the "
                                                        f"committee's median, against {exceed_median:.1%} for the "
                                                        f"median expert (robust z={exceed_z[e]:.1f})"))

    # Objective mismatches: binomial upper tail against the other experts' rate, BH over the experts tested.
    total_items = sum(acc[e].objective_items for e in ids)
    total_miss = sum(acc[e].objective_mismatches for e in ids)
    objective: dict[str, tuple[float, float]] = {}
    for e in ids:
        a = acc[e]
        if a.objective_items >= rules.min_objective_items and a.sessions >= rules.min_sessions:
            rest_items = total_items - a.objective_items
            base = (total_miss - a.objective_mismatches) / rest_items if rest_items else 0.0
            objective[e] = (base, binomial_upper_tail(a.objective_mismatches, a.objective_items, base))
    objective_q = dict(zip(objective, benjamini_hochberg([p for _, p in objective.values()]), strict=True))
    for e, (base, p) in objective.items():
        a = acc[e]
        rate = a.objective_mismatches / a.objective_items
        if objective_q[e] <= rules.fdr and rate - base >= rules.objective_floor:
            flags[e].append(TendencyFlag("objective_mismatch", f"{a.objective_mismatches} of {a.objective_items} "
                                                               f"objective items ({rate:.1%}) differ from the other "
                                                               f"members' common value, against {base:.1%} for the "
                                                               f"other experts (p={p:.2g}, q={objective_q[e]:.2g})"))

    experts = []
    for e in ids:
        a = acc[e]
        lr = lean.get(e)
        experts.append(ExpertTendency(
            expert=e, sessions=a.sessions, scores=a.scores, items=a.items,
            mean_deviation=_mean(a.session_means), mean_abs_deviation=a.abs_sum / a.items if a.items else 0.0,
            exceed_rate=a.exceed / a.items if a.items else 0.0, exceed_z=exceed_z.get(e),
            lean_t=lr[1] if lr else None, lean_p=lr[2] if lr else None, lean_q=lean_q.get(e),
            objective_items=a.objective_items, objective_mismatches=a.objective_mismatches,
            objective_p=objective[e][1] if e in objective else None, objective_q=objective_q.get(e),
            flags=tuple(flags[e]), session_deviations=tuple(a.session_means)))
    return TendencyReport(rules, count, tuple(experts), tuple(pairs),
                          total_miss / total_items if total_items else 0.0, exceed_median)
