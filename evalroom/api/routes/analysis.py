"""Analysis across sessions for the supervisors: the scoring-tendency report (打分倾向), computed on demand.

Who (docs/analysis.md, "Who sees it"): the coordinator admin over every session, a supervisor over the sessions
they supervise. Venue operators, experts and site agents are refused (403): the experts are the pool's, and a
venue must not learn how the coordinator judges them.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response

from evalroom.api.deps import Ctx, require
from evalroom.api.params import FromDay, ToDay
from evalroom.domain.roles import Principal, Role
from evalroom.services import tendency
from evalroom.tendency_report import render_csv, render_plot, to_json

router = APIRouter(prefix="/analysis", tags=["analysis"])
Overseer = Annotated[Principal, Depends(require(Role.COORDINATOR_ADMIN, Role.SUPERVISOR))]
BasisQuery = Annotated[tendency.Basis, Query(description="final: the newest sheet versions; submitted: version 1")]


def _analysis(ctx: Any, principal: Principal, start: date, end: date, basis: tendency.Basis) -> tendency.Analysis:
    return tendency.analyse_period(ctx.store, principal, start, end, basis=basis, tz=ctx.settings.local_timezone)


def _name(start: date, end: date, ext: str, plot: str | None = None) -> str:
    return f"tendency{'-' + plot if plot else ''}-{start}-{end}.{ext}"


@router.get("/tendency", summary="Scoring tendency of the pool's experts over the sessions that ended in a period "
                                 "(JSON or CSV)")
def tendency_report(ctx: Ctx, principal: Overseer, start: FromDay, end: ToDay, basis: BasisQuery = "final",
                    format: Annotated[Literal["json", "csv"], Query()] = "json") -> Any:  # noqa: A002 - the API's name
    analysis = _analysis(ctx, principal, start, end, basis)
    if format == "csv":
        return Response(render_csv(analysis), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{_name(start, end, "csv")}"'})
    return to_json(analysis)


@router.get("/tendency/plots/{plot}", summary="A plot of the scoring tendency: deviation.svg|png, favour.svg|png")
def tendency_plot(ctx: Ctx, principal: Overseer,
                  plot: Annotated[Literal["deviation.svg", "deviation.png", "favour.svg", "favour.png"], Path()],
                  start: FromDay, end: ToDay, basis: BasisQuery = "final") -> Response:
    name, ext = plot.split(".")
    analysis = _analysis(ctx, principal, start, end, basis)
    media = "image/svg+xml" if ext == "svg" else "image/png"
    return Response(render_plot(analysis, name, ext), media_type=media,
                    headers={"Content-Disposition": f'inline; filename="{_name(start, end, ext, name)}"'})
