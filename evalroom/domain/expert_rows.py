"""Reading an expert-pool file (CSV or JSON) into checked rows, with every error named by row and field.

Nothing is imported unless every row is good (evalroom.services.experts applies the rows in one transaction),
so this module's job is to find *all* problems in one pass. The formats are in docs/formats.md:

* JSON: a list of objects, one per expert, with the fields below (lists as JSON lists).
* CSV (UTF-8, optional BOM, header row): the same fields as columns, English or Chinese headers; list fields
  are separated by ``;``, an unavailable range is ``2026-12-01..2026-12-03``, an earlier evaluation is
  ``2026-10-01:招标人名称``, yes/no fields take ``是/否``, ``yes/no``, ``true/false`` or ``1/0``.

Fields: ``name``, ``id_number``, ``employer``, ``specialties`` (required); ``code`` (the pool's own number),
``certificate`` (the signing certificate's reference, e.g. issuer and serial), ``credit_status``
(active | suspended | blacklisted), ``punished``, ``ties``, ``unavailable``, ``evaluations`` (optional).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from evalroom.domain.avoidance import CreditStatus
from evalroom.domain.identity import check_id_number
from evalroom.domain.specialties import SpecialtyTree
from evalroom.errors import ApiError, ErrorCode

__all__ = ["ExpertRow", "MAX_ROWS", "parse_expert_file"]

MAX_ROWS = 50_000
MAX_ERRORS = 200
"""Errors reported at most; a file with more is hopeless anyway, and the answer stays small."""

_ALIASES = {
    "name": "name", "姓名": "name",
    "id_number": "id_number", "身份证号": "id_number", "身份证号码": "id_number",
    "employer": "employer", "工作单位": "employer",
    "specialties": "specialties", "专业": "specialties", "评标专业": "specialties",
    "code": "code", "专家编号": "code",
    "certificate": "certificate", "证书": "certificate", "数字证书": "certificate",
    "credit_status": "credit_status", "信用状态": "credit_status",
    "punished": "punished", "曾受处罚": "punished",
    "ties": "ties", "利害关系单位": "ties",
    "unavailable": "unavailable", "不可参评日期": "unavailable",
    "evaluations": "evaluations", "近期评标": "evaluations",
}
_REQUIRED = ("name", "id_number", "employer", "specialties")
_YES = {"是": True, "否": False, "yes": True, "no": False, "true": True, "false": False, "1": True, "0": False,
        "": False}
_STATUS_ALIASES = {"正常": "active", "暂停": "suspended", "黑名单": "blacklisted"}


@dataclass(frozen=True)
class ExpertRow:
    row: int
    name: str
    id_number: str
    employer: str
    specialties: tuple[str, ...]
    code: str | None = None
    certificate: str | None = None
    credit_status: CreditStatus = CreditStatus.ACTIVE
    punished: bool = False
    ties: tuple[str, ...] = ()
    unavailable: tuple[tuple[date, date], ...] = ()
    evaluations: tuple[tuple[str, date], ...] = ()
    given: frozenset[str] = frozenset()
    """The fields the file gave for this row: an update leaves the others as they are (a file without
    ``credit_status`` must not lift a suspension)."""


class _Errors:
    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self.count = 0
        """All errors found; only the first MAX_ERRORS are kept."""

    def add(self, row: int, fld: str, code: str, message: str) -> None:
        self.count += 1
        if len(self.items) < MAX_ERRORS:
            self.items.append({"row": row, "field": fld, "code": code, "message": message})


def _text(value: Any, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be non-empty text")
    value = value.strip()
    if len(value) > limit:
        raise ValueError(f"longer than {limit} characters")
    return value


def _list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [p.strip() for p in value.replace("；", ";").split(";") if p.strip()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v.strip() for v in value if v.strip()]
    raise ValueError("must be a list of text (in CSV: separated by ';')")


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _range(item: Any) -> tuple[date, date]:
    if isinstance(item, dict) and set(item) == {"from", "to"}:
        start, end = _date(str(item["from"])), _date(str(item["to"]))
    elif isinstance(item, str) and ".." in item:
        a, b = item.split("..", 1)
        start, end = _date(a), _date(b)
    elif isinstance(item, str):
        start = end = _date(item)
    else:
        raise ValueError("a range is 'YYYY-MM-DD..YYYY-MM-DD' or {\"from\", \"to\"}")
    if end < start:
        raise ValueError(f"the range {start}..{end} ends before it starts")
    return start, end


def _evaluation(item: Any) -> tuple[str, date]:
    if isinstance(item, dict) and set(item) == {"date", "tenderer"}:
        return _text(item["tenderer"], 200), _date(str(item["date"]))
    if isinstance(item, str) and ":" in item:
        d, tenderer = item.split(":", 1)
        return _text(tenderer, 200), _date(d)
    raise ValueError("an earlier evaluation is 'YYYY-MM-DD:tenderer' or {\"date\", \"tenderer\"}")


def _items(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return _list(value)
    if isinstance(value, list):
        return value
    raise ValueError("must be a list")


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _YES:
        return _YES[value.strip().lower()]
    raise ValueError("must be yes or no (是/否, true/false, 1/0)")


def _row(n: int, raw: Mapping[str, Any], tree: SpecialtyTree, errors: _Errors,
         keys: list[tuple[int, str, str]]) -> ExpertRow | None:
    """The checked row, or None after adding its errors. ``keys`` collects (row, field, value) of the fields
    that must be unique in the file, from bad rows too, so a duplicate is reported whatever else is wrong."""
    values: dict[str, Any] = {}
    before = errors.count

    def take(fld: str, parse: Any) -> None:
        if fld not in raw or raw[fld] is None or raw[fld] == "":
            if fld in _REQUIRED:
                errors.add(n, fld, "missing", f"{fld} is required")
            return
        try:
            values[fld] = parse(raw[fld])
        except ValueError as exc:
            errors.add(n, fld, "invalid", f"{fld}: {exc}")

    take("name", lambda v: _text(v, 50))
    take("id_number", check_id_number)
    take("employer", lambda v: _text(v, 200))
    take("specialties", lambda v: tuple(sorted(set(_list(v)))))
    take("code", lambda v: _text(v, 32))
    take("certificate", lambda v: _text(v, 200))
    take("credit_status", lambda v: CreditStatus(_STATUS_ALIASES.get(v.strip(), v.strip()) if isinstance(v, str) else v))
    take("punished", _bool)
    take("ties", lambda v: tuple(_text(t, 200) for t in _list(v)))
    take("unavailable", lambda v: tuple(_range(i) for i in _items(v)))
    take("evaluations", lambda v: tuple(_evaluation(i) for i in _items(v)))
    if "specialties" in values:
        if not values["specialties"]:
            errors.add(n, "specialties", "missing", "specialties: at least one specialty code is required")
        for code in tree.unknown(values["specialties"]):
            errors.add(n, "specialties", "unknown_specialty", f"unknown specialty {code} (not in the classification)")
    keys.extend((n, k, values[k]) for k in ("id_number", "code") if k in values)
    if errors.count > before:
        return None
    return ExpertRow(row=n, given=frozenset(values), **values)


def _records(data: bytes, fmt: str, errors: _Errors) -> list[tuple[int, dict[str, Any]]]:
    """The file's records with their row numbers: the position among the data rows (the JSON list's items,
    the CSV lines after the header, blank lines counted so a number points at the line people see)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ApiError(ErrorCode.IMPORT_REJECTED, "the file is not UTF-8 text") from None
    if fmt == "json":
        try:
            items = json.loads(text)
        except ValueError as exc:
            raise ApiError(ErrorCode.IMPORT_REJECTED, f"the file is not valid JSON: {exc}") from None
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise ApiError(ErrorCode.IMPORT_REJECTED, "a JSON expert file is a list of objects, one per expert")
        for n, item in enumerate(items, 1):
            for k in sorted(set(item) - set(_ALIASES.values())):
                errors.add(n, k, "unknown_field", f"unknown field {k!r}")
        return list(enumerate(items, 1))
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise ApiError(ErrorCode.IMPORT_REJECTED, "the CSV file is empty") from None
    except csv.Error as exc:
        raise ApiError(ErrorCode.IMPORT_REJECTED, f"the CSV file cannot be read: {exc}") from None
    columns = []
    for h in header:
        key = _ALIASES.get(h.strip())
        if key is None:
            raise ApiError(ErrorCode.IMPORT_REJECTED, f"unknown CSV column {h.strip()!r} (known: "
                           f"{', '.join(sorted(set(_ALIASES.values())))} or their Chinese names)")
        if key in columns:
            raise ApiError(ErrorCode.IMPORT_REJECTED, f"the CSV column for {key!r} appears twice")
        columns.append(key)
    records = []
    try:
        for n, cells in enumerate(reader, 1):
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(columns):
                errors.add(n, "*", "invalid", f"row has {len(cells)} cells, the header {len(columns)}")
                continue
            records.append((n, dict(zip(columns, cells, strict=True))))
    except csv.Error as exc:
        raise ApiError(ErrorCode.IMPORT_REJECTED, f"the CSV file cannot be read: {exc}") from None
    return records


def parse_expert_file(data: bytes, fmt: str, tree: SpecialtyTree) -> list[ExpertRow]:
    """Every row of the file, checked; raises ApiError(import_rejected) with ``details`` listing each error
    (row, field, code, message) if any row is bad. Rows are numbered from 1 (the first expert)."""
    if fmt not in ("csv", "json"):
        raise ApiError(ErrorCode.IMPORT_REJECTED, f"unknown format {fmt!r}: csv or json")
    errors = _Errors()
    records = _records(data, fmt, errors)
    if not records and not errors.count:
        raise ApiError(ErrorCode.IMPORT_REJECTED, "the file lists no experts")
    if len(records) > MAX_ROWS:
        raise ApiError(ErrorCode.IMPORT_REJECTED, f"the file lists {len(records)} experts; at most {MAX_ROWS} at once")
    keys: list[tuple[int, str, str]] = []
    rows = [r for n, raw in records if (r := _row(n, raw, tree, errors, keys)) is not None]
    first: dict[tuple[str, str], int] = {}
    for n, fld, value in keys:
        if (fld, value) in first:
            errors.add(n, fld, "duplicate", f"the same {fld} as row {first[(fld, value)]}")
        else:
            first[(fld, value)] = n
    if errors.count:
        shown = f"{MAX_ERRORS}+" if errors.count > MAX_ERRORS else str(errors.count)
        raise ApiError(ErrorCode.IMPORT_REJECTED, f"nothing was imported: {shown} error(s); the first: row "
                       f"{errors.items[0]['row']}, {errors.items[0]['message']}", details=errors.items)
    return rows

