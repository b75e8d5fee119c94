"""Verifying signed files offline, for ``evalroom verify``: a report PDF (every PAdES signature) or a score
sheet (its canonical JSON bytes and the detached CAdES signature beside it, ``<sheet>.p7s``).

The trust comes from a trust bundle (signing/trust.py, ``load_bundle``); time-stamps are trusted when they
chain to a recognised region's root (the coordinator's own hierarchy is one of the regions of the bundle).
Each signature is printed with its signer, region, time, and intact / valid / trusted / revocation; the
verdict is OK only if every signature is all of them.

The factor evidence (which second factor authorised which document hash, and when) is the coordinator's
record of each signature, not part of the signed file: given the records (``GET .../signatures`` as JSON,
``signatures.json`` in an export), each signature is matched to its record by the hash of exactly what was
handed in (the report up to the end of that signature's revision; the sheet signature's bytes), and the
record's authorised hash must be the document the signature covers. A signature the records do not account
for fails the verdict.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from signing.cms import verify_detached
from signing.pades import verify_pdf
from signing.trust import TrustStore

__all__ = ["FileReport", "verify_file"]


@dataclass(frozen=True)
class FileReport:
    kind: str
    lines: tuple[str, ...]
    ok: bool


def _yes(flag: bool) -> str:
    return "yes" if flag else "NO"


Record = Mapping[str, Any]


def _evidence_lines(records: Sequence[Record] | None, handed_in: str, signed_over: str) -> tuple[list[str], bool]:
    """What the records say about the signature whose handed-in bytes hash to ``handed_in``."""
    if records is None:
        return ["  factor evidence: not given (--evidence)"], True
    record = next((r for r in records if r.get("content_sha256") == handed_in), None)
    if record is None:
        return ["  problem: no signature record accounts for this signature"], False
    evidence = record.get("evidence")
    if evidence is None:
        return [f"  {record.get('document', '?')}: the coordinator's own signature, no second factor"], True
    detail = ", ".join(f"{k} {v}" for k, v in evidence.items() if k not in ("kind", "at", "document_sha256"))
    lines = [f"  factor: {evidence.get('kind')} at {evidence.get('at')} ({detail}) authorised "
             f"{str(evidence.get('document_sha256'))[:16]}…"]
    if not evidence.get("document_sha256") == record.get("document_sha256") == signed_over:
        lines.append("  problem: the factor authorised another document than the one this signature covers")
        return lines, False
    return lines, True


def verify_file(path: Path, trust: TrustStore, at: dt.datetime, signature: Path | None = None,
                evidence: Sequence[Record] | None = None) -> FileReport:
    """``evidence``: the coordinator's signature records, to print and check each signature's factor."""
    data = path.read_bytes()
    if data.startswith(b"%PDF"):
        checks = verify_pdf(data, trust, trust.recognised_roots(), at)
        lines, ok = [], bool(checks)
        for i, c in enumerate(checks, 1):
            when = c.timestamp.isoformat() if c.timestamp else "no time-stamp (judged at the given time)"
            lines.append(f"signature {i} ({c.field}): {c.signer}; region {c.region or '?'}; time {when}")
            lines.append(f"  intact {_yes(c.intact)}, valid {_yes(c.valid)}, trusted {_yes(c.trusted)}, "
                         f"revocation {c.revocation}, covers {c.coverage.replace('_', ' ')}")
            if c.reason:
                lines.append(f"  reason: {c.reason}")
            lines.extend(f"  problem: {p}" for p in c.problems)
            factor, accounted = _evidence_lines(evidence, c.revision_sha256, c.signed_over_sha256)
            lines.extend(factor)
            ok = ok and c.ok and accounted
        if not checks:
            lines.append("no signature in this PDF")
        return FileReport("report", tuple(lines), ok)
    sig_path = signature or path.with_name(path.name + ".p7s")
    if not sig_path.exists():
        return FileReport("sheet", (f"no signature file {sig_path.name} beside the sheet",), False)
    cms = sig_path.read_bytes()
    check = verify_detached(data, cms, trust, at)
    factor, accounted = _evidence_lines(evidence, hashlib.sha256(cms).hexdigest(), hashlib.sha256(data).hexdigest())
    lines = [f"signature 1: {check.signer or '?'}; region {check.region or '?'}; signing time (as claimed) "
             f"{check.signing_time.isoformat() if check.signing_time else '?'}",
             f"  intact {_yes(check.intact)}, valid {_yes(check.valid)}, trusted {_yes(check.trusted)}, "
             f"revocation {check.revocation}",
             *(f"  problem: {p}" for p in check.problems), *factor]
    return FileReport("sheet", tuple(lines), check.ok and accounted)
