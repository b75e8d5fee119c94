"""The scoring-tendency report as a supervisor reads it: JSON, CSV and plots (PNG, SVG) of an
:class:`~evalroom.services.tendency.Analysis`.

Rendering only: everything comes from the analysis, nothing from the database or the clock, so the same period
gives the same bytes (the SVG's element ids are salted with a fixed string, its date left out; the PNG carries
no time). Formats in docs/formats.md ("Scoring-tendency report").

Plots use matplotlib's object interface with the Agg renderer, never pyplot (whose global figure registry is not
for a server's threads). The few settings that only exist globally (the SVG's text mode and id salt, the font)
are applied in a ``rc_context`` under a lock, so concurrent requests render one at a time. Chinese names are
drawn with Noto Sans CJK SC (the ``mplfonts`` file the PDF report uses); the SVG keeps its text as text, so a
label can be searched and read by a screen reader, and a viewer uses that font or its own CJK fallback.
"""

from __future__ import annotations

import csv
import io
import math
import threading
from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

from evalroom.domain.tendency import ExpertTendency, PairTendency
from evalroom.report_pdf import default_font_path
from evalroom.services.tendency import Analysis

__all__ = ["FORMAT", "PLOTS", "PLOT_LIMIT", "plot_size", "render_csv", "render_plot", "to_json"]

FORMAT = "evalroom-tendency-v1"
PLOTS = ("deviation", "favour")
PLOT_LIMIT = 40
"""At most this many experts (rows) and bidders (columns) in a plot: every flagged one, then the most extreme."""
CSV_COLUMNS = (
    "level", "expert_id", "expert_code", "expert_name", "region", "bidder", "bidder_name", "sessions", "scores",
    "items", "mean_deviation", "mean_abs_deviation", "exceed_rate", "exceed_z", "lean_t", "lean_p", "lean_q",
    "objective_items", "objective_mismatches", "objective_rate", "objective_p", "objective_q", "contrast", "t", "p",
    "q", "flagged", "flags",
)
_LOCK = threading.Lock()
_FLAG_COLOUR, _PLAIN_COLOUR = "#c0392b", "#5d6d7e"


# --- JSON and CSV -----------------------------------------------------------------------------------------
def _num(x: float | None, places: int = 6) -> float | None:
    """A JSON number: rounded, and null where the value is missing or infinite (JSON has no infinity)."""
    if x is None or not math.isfinite(x):
        return None
    return round(x, places)


def _sig(x: float | None) -> float | None:
    """p- and q-values to three significant digits (they span hundreds of orders of magnitude)."""
    return None if x is None else float(f"{x:.3g}")


def _flags(analysis: Analysis, e: ExpertTendency) -> list[dict[str, Any]]:
    return [{"kind": f.kind, "bidder": f.bidder, "bidder_name": analysis.bidders.get(f.bidder) if f.bidder else None,
             "reason": f.reason} for f in e.flags]


def to_json(analysis: Analysis) -> dict[str, Any]:
    """The whole report as the API's JSON answer."""
    r = analysis.report
    experts = []
    for e in r.experts:
        label = analysis.experts.get(e.expert)
        experts.append({
            "expert_id": e.expert, "name": label.name if label else None, "code": label.code if label else None,
            "region": label.region if label else None, "sessions": e.sessions, "scores": e.scores, "items": e.items,
            "mean_deviation": _num(e.mean_deviation), "mean_abs_deviation": _num(e.mean_abs_deviation),
            "exceed_rate": _num(e.exceed_rate), "exceed_z": _num(e.exceed_z, 3), "lean_t": _num(e.lean_t, 3),
            "lean_p": _sig(e.lean_p), "lean_q": _sig(e.lean_q), "objective_items": e.objective_items,
            "objective_mismatches": e.objective_mismatches, "objective_rate": _num(e.objective_rate),
            "objective_p": _sig(e.objective_p), "objective_q": _sig(e.objective_q), "flags": _flags(analysis, e)})
    pairs = [{"expert_id": p.expert, "bidder": p.bidder, "bidder_name": analysis.bidders.get(p.bidder),
              "sessions": p.sessions, "mean_deviation": _num(p.mean_deviation), "contrast": _num(p.contrast),
              "t": _num(p.t, 3), "p": _sig(p.p), "q": _sig(p.q), "flagged": p.flagged} for p in r.pairs]
    return {"format": FORMAT, "from": analysis.start.isoformat(), "to": analysis.end.isoformat(),
            "basis": analysis.basis, "sessions": r.sessions, "rules": asdict(r.rules),
            "objective_rate": _num(r.objective_rate), "exceed_median": _num(r.exceed_median),
            "flagged": [e.expert for e in r.flagged], "experts": experts, "pairs": pairs}


def _cell(x: float | int | None, fmt: str = ".4f") -> str:
    if x is None:
        return ""
    if isinstance(x, float) and not math.isfinite(x):
        return "inf" if x > 0 else "-inf"
    return format(x, fmt) if isinstance(x, float) else str(x)


def render_csv(analysis: Analysis) -> bytes:
    """One row per expert (``level`` = ``expert``), then one per expert × bidder pair (``bidder``); UTF-8 with
    a byte-order mark, so that spreadsheet programs read the Chinese names right."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(CSV_COLUMNS)
    empty = dict.fromkeys(CSV_COLUMNS, "")
    for e in analysis.report.experts:
        label = analysis.experts.get(e.expert)
        row = {**empty, "level": "expert", "expert_id": e.expert, "expert_code": label.code or "" if label else "",
               "expert_name": label.name if label else "", "region": label.region if label else "",
               "sessions": _cell(e.sessions), "scores": _cell(e.scores), "items": _cell(e.items),
               "mean_deviation": _cell(e.mean_deviation), "mean_abs_deviation": _cell(e.mean_abs_deviation),
               "exceed_rate": _cell(e.exceed_rate), "exceed_z": _cell(e.exceed_z, ".2f"),
               "lean_t": _cell(e.lean_t, ".2f"), "lean_p": _cell(e.lean_p, ".3g"), "lean_q": _cell(e.lean_q, ".3g"),
               "objective_items": _cell(e.objective_items), "objective_mismatches": _cell(e.objective_mismatches),
               "objective_rate": _cell(e.objective_rate), "objective_p": _cell(e.objective_p, ".3g"),
               "objective_q": _cell(e.objective_q, ".3g"), "flagged": "yes" if e.flags else "",
               "flags": "; ".join(f"{f.kind}{' ' + (analysis.bidders.get(f.bidder) or f.bidder) if f.bidder else ''}: "
                                  f"{f.reason}" for f in e.flags)}
        w.writerow(row.values())
    for p in analysis.report.pairs:
        label = analysis.experts.get(p.expert)
        row = {**empty, "level": "bidder", "expert_id": p.expert, "expert_code": label.code or "" if label else "",
               "expert_name": label.name if label else "", "region": label.region if label else "",
               "bidder": p.bidder, "bidder_name": analysis.bidders.get(p.bidder, ""), "sessions": _cell(p.sessions),
               "mean_deviation": _cell(p.mean_deviation), "contrast": _cell(p.contrast), "t": _cell(p.t, ".2f"),
               "p": _cell(p.p, ".3g"), "q": _cell(p.q, ".3g"), "flagged": "yes" if p.flagged else ""}
        w.writerow(row.values())
    return ("\ufeff" + out.getvalue()).encode("utf-8")


# --- plots ------------------------------------------------------------------------------------------------
def _label(analysis: Analysis, expert: str) -> str:
    label = analysis.experts.get(expert)
    return label.text if label else expert


def _deviation_rows(analysis: Analysis, limit: int) -> list[ExpertTendency]:
    """Flagged experts first, then the largest mean deviations, at most ``limit``; shown by mean deviation."""
    experts = [e for e in analysis.report.experts if e.session_deviations]
    chosen = sorted(experts, key=lambda e: (not e.flags, -abs(e.mean_deviation), e.expert))[:limit]
    return sorted(chosen, key=lambda e: (e.mean_deviation, e.expert))


def _favour_grid(analysis: Analysis, limit: int) -> tuple[list[str], list[str], dict[tuple[str, str], PairTendency]]:
    tested = {(p.expert, p.bidder): p for p in analysis.report.pairs if p.q is not None}

    def pick(keys: Iterable[str], index: int) -> list[str]:
        strength: dict[str, tuple[bool, float]] = {}
        for key, p in tested.items():
            k = key[index]
            old = strength.get(k, (False, 0.0))
            strength[k] = (old[0] or p.flagged, max(old[1], abs(p.contrast)))
        return sorted(strength, key=lambda k: (not strength[k][0], -strength[k][1], k))[:limit]

    rows = sorted(pick(tested, 0), key=lambda e: _label(analysis, e))
    cols = sorted(pick(tested, 1), key=lambda b: analysis.bidders.get(b, b))
    return rows, cols, tested


def _period_text(analysis: Analysis) -> str:
    r = analysis.report
    return f"{analysis.start} – {analysis.end} ({r.sessions} sessions, {analysis.basis} sheets)"


def _draw_deviation(fig: Any, analysis: Analysis, limit: int) -> None:
    rows = _deviation_rows(analysis, limit)
    ax = fig.add_subplot()
    rules = analysis.report.rules
    shown = len(rows)
    total = sum(1 for e in analysis.report.experts if e.session_deviations)
    ax.set_title(f"打分偏离 Deviation from the committee's median, per session (% of range)\n{_period_text(analysis)}"
                 + (f"; {shown} of {total} experts" if shown < total else ""), fontsize=10)
    if not rows:
        ax.text(0.5, 0.5, "no scored sessions in this period", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    data = [[100 * v for v in e.session_deviations] for e in rows]
    box = ax.boxplot(data, orientation="horizontal", patch_artist=True, widths=0.6, showfliers=True,
                     flierprops={"markersize": 2, "alpha": 0.5})
    for i, e in enumerate(rows):
        colour = _FLAG_COLOUR if e.flags else _PLAIN_COLOUR
        box["boxes"][i].set(facecolor=colour, alpha=0.35 if not e.flags else 0.6, edgecolor=colour)
        box["medians"][i].set(color=colour)
    ax.set_yticks(range(1, len(rows) + 1), [_row_label(analysis, e) for e in rows], fontsize=8)
    for tick, e in zip(ax.get_yticklabels(), rows, strict=True):
        if e.flags:
            tick.set_color(_FLAG_COLOUR)
    ax.axvline(0, color="black", linewidth=0.8)
    for x in (-rules.lean_floor, rules.lean_floor):
        ax.axvline(100 * x, color="grey", linewidth=0.6, linestyle="--")
    ax.set_xlabel("expert's score − median of the other members, % of the criterion's range (subjective items)")
    ax.grid(axis="x", linewidth=0.3)


def _row_label(analysis: Analysis, e: ExpertTendency) -> str:
    if not e.flags:
        return _label(analysis, e.expert)
    kinds = sorted({f.kind for f in e.flags})
    return f"{_label(analysis, e.expert)} [{', '.join(kinds)}]"


def _draw_favour(fig: Any, analysis: Analysis, limit: int) -> None:
    rows, cols, tested = _favour_grid(analysis, limit)
    ax = fig.add_subplot()
    ax.set_title(f"倾向性 Favour: contrast on a bidder against the other bidders of the same sessions (% of range)\n"
                 f"{_period_text(analysis)}; boxed: flagged (q ≤ {analysis.report.rules.fdr:g}, "
                 f"|contrast| ≥ {100 * analysis.report.rules.favour_floor:g}%)", fontsize=10)
    if not rows:
        ax.text(0.5, 0.5, "no expert × bidder pair has enough sessions to test", ha="center", va="center",
                transform=ax.transAxes)
        ax.set_axis_off()
        return
    grid = [[100 * tested[(r, c)].contrast if (r, c) in tested else math.nan for c in cols] for r in rows]
    image = ax.imshow(grid, cmap="RdBu_r", vmin=-20, vmax=20, aspect="auto", interpolation="nearest")
    ax.set_yticks(range(len(rows)), [_label(analysis, r) for r in rows], fontsize=8)
    ax.set_xticks(range(len(cols)), [analysis.bidders.get(c, c) for c in cols], fontsize=7, rotation=60,
                  ha="right", rotation_mode="anchor")
    flagged_rows = {p.expert for p in tested.values() if p.flagged}
    for tick, r in zip(ax.get_yticklabels(), rows, strict=True):
        if r in flagged_rows:
            tick.set_color(_FLAG_COLOUR)
    from matplotlib.patches import Rectangle

    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            p = tested.get((r, c))
            if p is not None and p.flagged:
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="black", linewidth=2))
                ax.text(j, i, f"{100 * p.contrast:+.0f}", ha="center", va="center", fontsize=7,
                        color="white" if abs(p.contrast) >= 0.1 else "black")
    fig.colorbar(image, ax=ax, shrink=0.8, label="contrast, % of range (blank: too few sessions)")


def _height(rows: int) -> float:
    return max(4.0, 1.8 + 0.26 * rows)


def plot_size(analysis: Analysis, plot: str, *, limit: int = PLOT_LIMIT, dpi: int = 100) -> tuple[int, int]:
    """The pixel size of a PNG plot (width, height): 10 inches wide, 0.26 inch per row."""
    rows = len(_deviation_rows(analysis, limit)) if plot == "deviation" else len(_favour_grid(analysis, limit)[0])
    extra = 1.2 if plot == "favour" else 0.0  # the bidders' names below the grid
    return round(10 * dpi), round((_height(rows) + extra) * dpi)


def render_plot(analysis: Analysis, plot: str, fmt: str, *, limit: int = PLOT_LIMIT, dpi: int = 100) -> bytes:
    """``plot`` (``deviation`` or ``favour``) as ``fmt`` (``png`` or ``svg``)."""
    if plot not in PLOTS or fmt not in ("png", "svg"):
        raise ValueError(f"no plot {plot!r} as {fmt!r} (plots: {list(PLOTS)}; formats: png, svg)")
    import matplotlib
    from matplotlib import font_manager
    from matplotlib.figure import Figure

    font = str(default_font_path())
    width, height = plot_size(analysis, plot, limit=limit, dpi=dpi)
    out = io.BytesIO()
    with _LOCK:
        if font not in {f.fname for f in font_manager.fontManager.ttflist}:
            font_manager.fontManager.addfont(font)
        family = font_manager.FontProperties(fname=font).get_name()
        with matplotlib.rc_context({"font.family": [family, "DejaVu Sans"], "svg.fonttype": "none",
                                    "svg.hashsalt": "evalroom-tendency", "axes.unicode_minus": False}):
            fig = Figure(figsize=(width / dpi, height / dpi), dpi=dpi, layout="constrained")
            (_draw_deviation if plot == "deviation" else _draw_favour)(fig, analysis, limit)
            metadata: dict[str, Any] = {"Date": None} if fmt == "svg" else {}
            fig.savefig(out, format=fmt, dpi=dpi, metadata=metadata)
    return out.getvalue()
