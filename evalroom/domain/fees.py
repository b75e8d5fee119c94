"""Expert fees (评标专家劳务报酬): fee tables per region, the fee of one expert for one session, and who pays.

**Tables.** Each region's standard is configuration (``fee_tables_file``, TOML, docs/formats.md "Expert fee
tables"; :func:`load_fee_tables`): a base fee for up to ``base_hours``, an amount per started hour beyond it,
an optional cap on those two, and a travel allowance per session. Amounts are decimal text with at most two
places; a TOML float is refused, because a binary float cannot hold 0.10 and the rule is "never float".

**Time.** An expert works from their check-in (the operator at their venue checks them in; they are at the
venue from then on) to the session's end (``session.state_changed`` with ``end``), both as the coordinator
recorded them. Whole minutes count; the seconds are dropped. Overtime is billed per **started** hour (不足 1
小时按 1 小时计, the usual wording of the provinces' standards): 4 h 01 min on a 4-hour base is 1 hour over.

**Pay the higher (就高不就低).** shared/domain.md: an expert is paid by their own pool's standard or as host and
guest agree, the higher one. Here: an expert of another region than the host's is paid under whichever of
their own region's table and the host region's table gives the higher amount (travel included); on equal
amounts, their own. An expert of the host's region has one table.

**Amounts** are :class:`~decimal.Decimal` throughout and rounded to the fen (0.01) half up at the end; with the
tables' two places and whole hours no rounding is ever needed, and the rule is stated so that a future table
with a rate per minute cannot round silently.

**Who pays whom** (:class:`FeePayer`, the ``fee_payer`` setting): ``host`` (default) — the host venue pays every
expert of the session on the tenderer's behalf (统一支付: the seeds' "unified expert-fee payment"), one batch;
``venue`` — each venue pays the experts who sat there (副场代发), one batch per venue.

Nothing here reads a clock or a file: callers pass the instants and the file's text.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

from evalroom.errors import ApiError, ConfigError, ErrorCode

__all__ = [
    "FEN",
    "ROUNDING",
    "ExpertTime",
    "Fee",
    "FeeLine",
    "FeePayer",
    "FeeTable",
    "FeeTables",
    "batches",
    "fee_line",
    "fee_under",
    "load_fee_tables",
    "worked_minutes",
]

FEN = Decimal("0.01")
ROUNDING = "ROUND_HALF_UP, 0.01"
_AMOUNT = re.compile(r"\d{1,7}(\.\d{1,2})?")
_CODE = re.compile(r"[A-Z0-9][A-Z0-9-]{1,31}")
_KEYS = {"code", "region", "name", "base_fee", "base_hours", "extra_per_hour", "travel", "cap"}
_REQUIRED = _KEYS - {"cap"}


class FeePayer(StrEnum):
    HOST = "host"
    """The host venue pays every expert of the session (统一支付)."""
    VENUE = "venue"
    """Each venue pays the experts who sat there."""


@dataclass(frozen=True)
class FeeTable:
    """One region's standard."""

    code: str
    """The table's own code, e.g. ``SD-2026``: named in every line it priced."""
    region: str
    """The code of the region whose experts it applies to (as registered, e.g. ``SD``)."""
    name: str
    base_fee: Decimal
    base_hours: int
    """The base fee covers up to this many hours."""
    extra_per_hour: Decimal
    """Per started hour beyond ``base_hours``."""
    travel: Decimal
    """Per expert per session."""
    cap: Decimal | None = None
    """The most the base fee and overtime come to together (travel is on top); None: no cap."""

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "region": self.region, "name": self.name, "base_fee": str(self.base_fee),
                "base_hours": self.base_hours, "extra_per_hour": str(self.extra_per_hour),
                "travel": str(self.travel), "cap": None if self.cap is None else str(self.cap)}


@dataclass(frozen=True)
class FeeTables:
    tables: tuple[FeeTable, ...] = ()

    def for_region(self, region: str) -> FeeTable | None:
        return next((t for t in self.tables if t.region == region), None)


def _amount(where: str, key: str, value: object) -> Decimal:
    if not isinstance(value, str) or not _AMOUNT.fullmatch(value):
        raise ConfigError(f"fee tables: {where}: {key} must be decimal text with at most two places, e.g. "
                          f"\"800.00\" (a TOML number is refused: amounts are never floats), not {value!r}")
    return Decimal(value)


def load_fee_tables(text: str) -> FeeTables:
    """Read the tables from TOML (``[[tables]]`` entries, docs/formats.md). Anything wrong is a
    :class:`ConfigError` naming the table and the value: a table that loads wrongly pays every expert wrongly."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"fee tables: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - {"tables"})
    if unknown:
        raise ConfigError(f"fee tables: unknown key {unknown[0]!r} (only [[tables]])")
    entries = data.get("tables", [])
    if not isinstance(entries, list):
        raise ConfigError("fee tables: 'tables' must be an array of tables ([[tables]])")
    out: list[FeeTable] = []
    for i, entry in enumerate(entries, 1):
        where = f"table {i}"
        if not isinstance(entry, dict):
            raise ConfigError(f"fee tables: {where} is not a table")
        where = f"table {entry.get('code', i)!r}"
        extra, missing = sorted(set(entry) - _KEYS), sorted(_REQUIRED - set(entry))
        if extra or missing:
            raise ConfigError(f"fee tables: {where}: " + (f"unknown key {extra[0]!r}" if extra else
                                                          f"missing {missing[0]!r}"))
        for key in ("code", "region"):
            if not isinstance(entry[key], str) or not _CODE.fullmatch(entry[key]):
                raise ConfigError(f"fee tables: {where}: {key} must be an upper-case code like SD-2026, "
                                  f"not {entry[key]!r}")
        if not isinstance(entry["name"], str) or not 1 <= len(entry["name"]) <= 200:
            raise ConfigError(f"fee tables: {where}: name must be text of 1 to 200 characters")
        if "cap" in entry and _amount(where, "cap", entry["cap"]) < _amount(where, "base_fee", entry["base_fee"]):
            raise ConfigError(f"fee tables: {where}: the cap {entry['cap']} is below the base fee {entry['base_fee']}")
        hours = entry["base_hours"]
        if isinstance(hours, bool) or not isinstance(hours, int) or not 0 <= hours <= 24:
            raise ConfigError(f"fee tables: {where}: base_hours must be a whole number from 0 to 24, not {hours!r}")
        out.append(FeeTable(
            code=entry["code"], region=entry["region"], name=entry["name"],
            base_fee=_amount(where, "base_fee", entry["base_fee"]), base_hours=hours,
            extra_per_hour=_amount(where, "extra_per_hour", entry["extra_per_hour"]),
            travel=_amount(where, "travel", entry["travel"]),
            cap=_amount(where, "cap", entry["cap"]) if "cap" in entry else None))
    for attr in ("code", "region"):
        seen: set[str] = set()
        for t in out:
            value = getattr(t, attr)
            if value in seen:
                raise ConfigError(f"fee tables: two tables have the {attr} {value!r} (one table per region)")
            seen.add(value)
    return FeeTables(tuple(out))


def worked_minutes(start: datetime, end: datetime) -> int:
    """Whole minutes from ``start`` to ``end`` (aware datetimes); the seconds are dropped."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("worked_minutes needs aware datetimes")
    if end < start:
        raise ValueError(f"the end {end.isoformat()} is before the start {start.isoformat()}")
    return int((end - start).total_seconds()) // 60


def _fen(value: Decimal) -> Decimal:
    """``value`` rounded to the fen, half up (the module docstring's rule)."""
    return value.quantize(FEN, rounding=ROUND_HALF_UP)


def _money(value: Decimal) -> str:
    return str(_fen(value))


@dataclass(frozen=True)
class Fee:
    """What one table pays for ``minutes`` of work."""

    table: FeeTable
    minutes: int
    overtime_hours: int
    base: Decimal
    """The parts are given to the fen ("700" in a table is 700.00 here)."""
    overtime: Decimal
    """``overtime_hours`` × the table's rate, before any cap."""
    capped: bool
    travel: Decimal
    amount: Decimal
    """Rounded to the fen."""

    @property
    def overtime_paid(self) -> Decimal:
        """What is paid for the overtime once the cap is applied: ``base + overtime_paid + travel == amount``."""
        return self.amount - self.base - self.travel

    def explain(self) -> str:
        t = self.table
        parts = f"基本费 {_money(self.base)} (≤{t.base_hours} h)"
        if self.overtime_hours:
            parts += f" + 超时 {self.overtime_hours} h × {_money(t.extra_per_hour)} = {_money(self.overtime)}"
        if self.capped:
            parts += f"，封顶 {_money(t.cap)}"  # type: ignore[arg-type]
        return f"{parts} + 交通 {_money(self.travel)} = {_money(self.amount)}"


def fee_under(table: FeeTable, minutes: int) -> Fee:
    """The fee ``table`` pays for ``minutes`` of work (see the module docstring for the rules)."""
    if minutes < 0:
        raise ValueError(f"cannot pay {minutes} minutes")
    over = max(0, minutes - table.base_hours * 60)
    hours = math.ceil(over / 60)
    overtime = table.extra_per_hour * hours
    labour = table.base_fee + overtime
    capped = table.cap is not None and labour > table.cap
    if capped:
        labour = table.cap  # type: ignore[assignment]
    return Fee(table=table, minutes=minutes, overtime_hours=hours, base=_fen(table.base_fee), overtime=_fen(overtime),
               capped=capped, travel=_fen(table.travel), amount=_fen(labour + table.travel))


@dataclass(frozen=True)
class ExpertTime:
    """An expert's part in one session, as recorded."""

    member_id: str
    expert_id: str
    name: str
    pool_code: str | None
    region: str
    """The code of the expert's own region (their pool)."""
    venue_id: str
    """Where they sat."""
    checked_in_at: datetime
    ended_at: datetime


@dataclass(frozen=True)
class FeeLine:
    expert: ExpertTime
    fee: Fee
    """Under the table chosen."""
    other: Fee | None
    """Under the table not chosen, for an expert of another region than the host's."""
    payer_venue_id: str

    @property
    def basis(self) -> str:
        """The amount explained, as a person checks it: the time, the table's parts, and why this table."""
        h, m = divmod(self.fee.minutes, 60)
        text = f"时长 {h} h {m:02d} min: {self.fee.explain()}"
        if self.other is None:
            return f"{text}; 主场表 {self.fee.table.code}"
        label = {True: "主场表", False: "副场表"}
        mine = self.fee.table.region != self.expert.region
        chosen = f"{label[mine]} {self.fee.table.code} {_money(self.fee.amount)}"
        other = f"{label[not mine]} {self.other.table.code} {_money(self.other.amount)}"
        if self.fee.amount == self.other.amount:
            return f"{text}; 就高: {chosen} 与 {other} 相同，按副场表"
        return f"{text}; 就高: {chosen} 高于 {other}"


def fee_line(t: ExpertTime, tables: FeeTables, host_region: str, payer_venue_id: str) -> FeeLine:
    """One expert's fee, under the higher of their own region's and the host region's tables."""
    minutes = worked_minutes(t.checked_in_at, t.ended_at)
    own, host = tables.for_region(t.region), tables.for_region(host_region)
    if own is None or host is None:
        raise ApiError(ErrorCode.UNKNOWN_FEE_TABLE, f"no fee table for region {t.region if own is None else host_region}")
    if own.code == host.code:
        return FeeLine(expert=t, fee=fee_under(own, minutes), other=None, payer_venue_id=payer_venue_id)
    mine, theirs = fee_under(own, minutes), fee_under(host, minutes)
    chosen, other = (theirs, mine) if theirs.amount > mine.amount else (mine, theirs)
    return FeeLine(expert=t, fee=chosen, other=other, payer_venue_id=payer_venue_id)


def batches(times: list[ExpertTime], tables: FeeTables, *, host_region: str, host_venue_id: str,
            payer: FeePayer) -> dict[str, list[FeeLine]]:
    """The session's lines grouped by paying venue (the host first, then by venue id), each in member order.
    Every region without a table is named in one ``unknown_fee_table`` error, before anything is priced."""
    missing = sorted({r for r in (host_region, *(t.region for t in times)) if tables.for_region(r) is None})
    if missing:
        raise ApiError(ErrorCode.UNKNOWN_FEE_TABLE, f"no fee table for region(s) {', '.join(missing)}: add them to "
                       f"the fee tables file (docs/formats.md); nothing was computed",
                       details=[{"region": r} for r in missing])
    out: dict[str, list[FeeLine]] = {}
    for t in sorted(times, key=lambda t: (t.venue_id != host_venue_id, t.venue_id, t.member_id)):
        venue = host_venue_id if payer is FeePayer.HOST else t.venue_id
        out.setdefault(venue, []).append(fee_line(t, tables, host_region, venue))
    return dict(sorted(out.items(), key=lambda kv: (kv[0] != host_venue_id, kv[0])))
