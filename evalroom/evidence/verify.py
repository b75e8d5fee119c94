"""Checking an evidence bundle offline (``evalroom verify FILE.zip``): nothing but the file, and optionally the
log's verifier key and a trust bundle obtained another way (pinned; otherwise the bundle's own are used and
the report says so).

The checks, in order, each problem naming the file it is about:

1. **The zip and its index.** Every member is read (a damaged member fails its CRC) and hashed; ``BUNDLE.sig``
   must be the log key's signature over ``BUNDLE.json``'s hash; every member must be listed in the index with
   that hash, and every listed file must be there.
2. **The log.** The checkpoint must be signed by the log's key; every leaf in ``log/proofs.jsonl`` must be in
   the checkpointed tree (RFC 6962 inclusion proofs).
3. **The events.** Each event's hash must match its content, and must be the one a proven leaf commits to (and
   a public leaf's payload the event's); every proven leaf must have its event. Only proven events are used
   below: they are what the coordinator logged at the time.
4. **Recordings.** Each manifest's chain; each segment line the one an event of the session logged;
   each segment file the hash logged; every logged segment present; sealed tracks sealed.
5. **Sheets and the report.** Each sheet and its ``.p7s`` the ones ``signing.sheet_signed`` logged, each report
   PDF a revision the log holds, each report JSON the one produced; every signature intact, valid and trusted
   (signing/verify.py), with its factor evidence from ``signatures.json``; every logged sheet signature present.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from evalroom.clock import parse_time
from evalroom.domain.events import CHAINED, GENESIS_HASH, LEGACY, Event, chain_of
from evalroom.domain.recording import media_lines
from evalroom.evidence import (
    CHECKPOINT,
    EVENTS,
    INDEX,
    INDEX_SIGNATURE,
    LOG_KEY,
    PROOFS,
    SIGNATURES,
    index_note_text,
    progress,
)
from evalroom.services.tlog import PUBLIC_KINDS
from media.manifest import MANIFEST, path_name, read_manifest, verify_manifest
from signing.note import DASH, NoteError, NoteVerifier, open_note, parse_checkpoint
from signing.tlog import ProofError, leaf_hash, verify_inclusion
from signing.trust import load_bundle
from signing.verify import verify_file

__all__ = ["BundleReport", "verify_bundle"]


@dataclass
class BundleReport:
    lines: list[str] = field(default_factory=list)
    """What was checked, for the reader."""
    problems: list[str] = field(default_factory=list)
    """What failed, each starting with the file it is about."""

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_bundle(path: Path, *, log_key: str | None = None, trust_dir: Path | None = None) -> BundleReport:
    report = BundleReport()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        hashes = _extract(path, root, report)
        if hashes is None:
            return report
        verifier = _log_verifier(root, log_key, report)
        if verifier is None:
            return report
        session_id = _check_index(root, hashes, verifier, report)
        proven = _check_log(root, verifier, session_id, report)
        if proven is None:  # nothing in the bundle can be tied to the log: say so once, not per file
            report.problems.append("the contents: not checked against the log, which has no valid checkpoint here")
            return report
        events = _check_events(root, proven, session_id, report)
        _check_recordings(root, hashes, events, report)
        _check_signed(root, hashes, events, trust_dir, report)
    return report


# --- 1. the zip and its index ------------------------------------------------------------------------------
def _extract(path: Path, root: Path, report: BundleReport) -> dict[str, str] | None:
    """Every member written under ``root`` and hashed: name → SHA-256 (None if the zip cannot be read)."""
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        report.problems.append(f"{path.name}: not a readable zip ({exc})")
        return None
    hashes: dict[str, str] = {}
    with zf, progress(f"verifying {path.name}", sum(i.file_size for i in zf.infolist())) as advance:
        for info in zf.infolist():
            name = PurePosixPath(info.filename)
            if info.is_dir():
                continue
            if name.is_absolute() or ".." in name.parts or "\\" in info.filename:
                report.problems.append(f"{info.filename}: a name that points outside the bundle")
                continue
            target = root / name
            target.parent.mkdir(parents=True, exist_ok=True)
            digest = hashlib.sha256()
            try:
                with zf.open(info) as src, target.open("wb") as dst:
                    for chunk in iter(lambda: src.read(1 << 20), b""):  # noqa: B023 - consumed at once
                        digest.update(chunk)
                        dst.write(chunk)
                        advance(len(chunk))
            except (zipfile.BadZipFile, OSError) as exc:
                report.problems.append(f"{info.filename}: damaged in the zip ({exc})")
                continue
            hashes[info.filename] = digest.hexdigest()
    for required in (INDEX, INDEX_SIGNATURE, LOG_KEY, CHECKPOINT, PROOFS, EVENTS):
        if required not in hashes:
            report.problems.append(f"{required}: missing")
    return None if report.problems else hashes


def _log_verifier(root: Path, pinned: str | None, report: BundleReport) -> NoteVerifier | None:
    bundled = (root / LOG_KEY).read_text(encoding="utf-8").strip()
    try:
        verifier = NoteVerifier.from_vkey(pinned or bundled)
    except NoteError as exc:
        report.problems.append(f"{'--log-key' if pinned else LOG_KEY}: {exc}")
        return None
    if pinned and bundled != pinned:
        report.problems.append(f"{LOG_KEY}: not the pinned log key (the bundle is from another log)")
    report.lines.append(f"log key {verifier.name}: " + ("pinned" if pinned else
                        "taken from the bundle (pin it with --log-key to know it is the coordinator's)"))
    return verifier


def _check_index(root: Path, hashes: dict[str, str], verifier: NoteVerifier, report: BundleReport) -> str | None:
    """The session the bundle is about, as its index says (None if the index cannot be read)."""
    body = (root / INDEX).read_bytes()
    try:
        index = json.loads(body)
        files: dict[str, dict[str, Any]] = index["files"]
        session_id: str = index["session_id"]
    except (ValueError, KeyError, TypeError):
        report.problems.append(f"{INDEX}: not a bundle index")
        return None
    try:
        signed = open_note((root / INDEX_SIGNATURE).read_text(encoding="utf-8"), verifier)
    except (NoteError, UnicodeDecodeError) as exc:
        report.problems.append(f"{INDEX_SIGNATURE}: {exc}")
    else:
        if signed != index_note_text(session_id, hashlib.sha256(body).hexdigest()):
            report.problems.append(f"{INDEX}: altered (not the index the log's key signed)")
    for name, digest in sorted(hashes.items()):
        if name in (INDEX, INDEX_SIGNATURE):
            continue
        if name not in files:
            report.problems.append(f"{name}: not listed in {INDEX} (added)")
        elif files[name].get("sha256") != digest:
            report.problems.append(f"{name}: altered (its SHA-256 is not the one in {INDEX})")
    report.problems.extend(f"{name}: missing" for name in sorted(set(files) - set(hashes)))
    report.problems.extend(f"{item} (incomplete at export)" for item in index.get("incomplete", []))
    report.lines.append(f"session {session_id}: {len(files)} files listed, {len(hashes) - 2} present")
    return session_id


# --- 2. the log --------------------------------------------------------------------------------------------
def _check_log(root: Path, verifier: NoteVerifier, session_id: str | None,
               report: BundleReport) -> dict[int, dict[str, Any]] | None:
    """The leaves proven in the checkpointed tree, by event sequence number (None: no valid checkpoint)."""
    try:
        note = (root / CHECKPOINT).read_text(encoding="utf-8")
        checkpoint = parse_checkpoint(open_note(note, verifier))
    except (NoteError, UnicodeDecodeError) as exc:
        report.problems.append(f"{CHECKPOINT}: {exc}")
        return None
    signature_lines = note.rpartition("\n\n")[2].splitlines()
    cosigners = sorted({line.removeprefix(DASH).split(" ")[0] for line in signature_lines} - {verifier.name})
    proven: dict[int, dict[str, Any]] = {}
    for n, line in enumerate((root / PROOFS).read_text(encoding="utf-8").splitlines(), 1):
        try:
            item = json.loads(line)
            data = base64.b64decode(item["data"], validate=True)
            verify_inclusion(item["index"], checkpoint.size, leaf_hash(data),
                             [base64.b64decode(h, validate=True) for h in item["proof"]], checkpoint.root)
            doc = json.loads(data)
        except (ValueError, KeyError, TypeError, ProofError) as exc:
            report.problems.append(f"{PROOFS}: line {n}: not proven in the checkpointed tree ({exc})")
            continue
        if session_id is not None and doc.get("session_id") != session_id:
            report.problems.append(f"{PROOFS}: line {n}: a leaf of another session")
            continue
        proven[doc["seq"]] = doc
    report.lines.append(f"log {checkpoint.origin}: checkpoint of {checkpoint.size} leaves signed; "
                        f"{len(proven)} leaves of the session proven in it")
    if cosigners:
        report.lines.append(f"checkpoint also signed by {len(cosigners)} witness(es), not checked here (their keys "
                            "are the venues'): " + ", ".join(cosigners))
    return proven


# --- 3. the events -----------------------------------------------------------------------------------------
def _check_events(root: Path, proven: dict[int, dict[str, Any]], session_id: str | None,
                  report: BundleReport) -> list[dict[str, Any]]:
    """The events that are intact and proven by the log, in order. The session's events of format 2 must also
    be its chain, whole from position 1 and in order (domain/events.py): a dropped, inserted or reordered event
    breaks it even where the log alone would not tell."""
    good, seen = [], set()
    position, prev = 0, GENESIS_HASH
    for n, line in enumerate((root / EVENTS).read_text(encoding="utf-8").splitlines(), 1):
        try:
            ev = json.loads(line)
            event = Event(seq=ev["seq"], recorded_at=ev["recorded_at"], actor=ev["actor"], kind=ev["kind"],
                          session_id=ev["session_id"], payload=ev["payload"], prev_hash=ev["prev_hash"],
                          hash=ev["hash"], chain=ev.get("chain", chain_of(ev["session_id"])),
                          position=ev.get("position"), version=ev.get("version", LEGACY))
            computed = event.computed_hash()
        except (ValueError, KeyError, TypeError, AttributeError):
            report.problems.append(f"{EVENTS}: line {n}: not an event")
            continue
        seq = ev["seq"]
        seen.add(seq)
        leaf = proven.get(seq)
        if computed != ev["hash"]:
            report.problems.append(f"{EVENTS}: event {seq} altered (its hash does not match its content)")
        elif session_id is not None and ev["session_id"] != session_id:
            report.problems.append(f"{EVENTS}: event {seq} belongs to another session")
        elif event.version == CHAINED and (event.position != position + 1 or event.prev_hash != prev):
            report.problems.append(f"{EVENTS}: event {seq} is not where its chain has it (position {event.position} "
                                   f"after {position}: an event dropped, added or moved)")
        elif leaf is None:
            report.problems.append(f"{EVENTS}: event {seq} has no proof in the log")
        elif leaf["event_hash"] != ev["hash"] or leaf["kind"] != ev["kind"] or (
                ev["kind"] in PUBLIC_KINDS and leaf.get("payload") != ev["payload"]) or (
                event.version == CHAINED and (leaf.get("chain"), leaf.get("position")) != (event.chain, event.position)):
            report.problems.append(f"{EVENTS}: event {seq} is not the event the log holds")
        else:
            good.append(ev)
        if event.version == CHAINED and computed == ev["hash"]:
            position, prev = event.position or 0, event.hash  # go on from here: one problem per break
    report.problems.extend(f"{EVENTS}: event {seq}, which the log holds, is missing"
                           for seq in sorted(set(proven) - seen))
    report.lines.append(f"events: {len(good)} intact and proven by the log")
    return good


# --- 4. recordings -----------------------------------------------------------------------------------------
def _check_recordings(root: Path, hashes: dict[str, str], events: list[dict[str, Any]], report: BundleReport) -> None:
    logged: dict[str, dict[str, dict[str, Any]]] = {}
    sealed: set[str] = set()
    for kind, p in (line for ev in events for line in media_lines(ev["kind"], ev["payload"])):
        base = f"recordings/{path_name(p['publisher'])}/{path_name(p['track'])}"
        lines = logged.setdefault(base, {})
        if kind == "media.segment_recorded":
            lines[p["file"]] = p
        elif kind == "media.track_sealed":
            sealed.add(base)
    on_disk = {str(PurePosixPath(n).parent) for n in hashes if n.startswith("recordings/")}
    for base in sorted(on_disk - set(logged)):
        report.problems.append(f"{base}: a recording no event of the session logged")
    segments = 0
    for base, lines in sorted(logged.items()):
        manifest = f"{base}/{MANIFEST}"
        if manifest not in hashes:
            report.problems.append(f"{manifest}: missing")
        else:
            check = verify_manifest(root / base, check_files=False)
            report.problems.extend(f"{manifest}: {p}" for p in check.problems)
            for entry in (e for e in read_manifest(root / base) if e.get("type") == "segment"):
                if lines.get(entry.get("file"), {}).get("hash") != entry.get("hash"):
                    report.problems.append(f"{manifest}: line {entry.get('seq')} is not the line that was logged")
            if (base in sealed) != check.sealed:
                report.problems.append(f"{manifest}: {'not ' if base in sealed else ''}sealed, unlike the log")
        for file, entry in sorted(lines.items()):
            name = f"{base}/{file}"
            segments += 1
            if name not in hashes:
                report.problems.append(f"{name}: missing")
            elif hashes[name] != entry["sha256"]:
                report.problems.append(f"{name}: altered (not the hash logged at {entry['wallclock_end']})")
        for name in sorted(n for n in hashes if n.startswith(base + "/seg-")):
            if name.rsplit("/", 1)[1] not in lines:
                report.problems.append(f"{name}: a segment that was never logged")
    report.lines.append(f"recordings: {len(logged)} tracks, {segments} logged segments checked")


# --- 5. sheets and the report ------------------------------------------------------------------------------
def _check_signed(root: Path, hashes: dict[str, str], events: list[dict[str, Any]], trust_dir: Path | None,
                  report: BundleReport) -> None:
    sheet_signed = {ev["payload"]["sheet_sha256"]: ev for ev in events if ev["kind"] == "signing.sheet_signed"}
    produced = {ev["payload"]["version"]: ev["payload"] for ev in events if ev["kind"] == "report.produced"}
    revisions = {(ev["payload"]["version"], ev["payload"]["pdf_sha256"]): ev for ev in events
                 if ev["kind"] in ("signing.report_signed", "report.sealed")}
    for version, p in produced.items():
        revisions.setdefault((version, p["pdf_sha256"]), None)  # as produced, before any signature
    if trust_dir is None and not (root / "trust").is_dir():
        report.problems.append("trust/: missing, and no --trust given")
        return
    try:
        trust = load_bundle(trust_dir or root / "trust")
    except (OSError, ValueError) as exc:
        report.problems.append(f"{'--trust' if trust_dir else 'trust/'}: cannot be read ({exc})")
        return
    report.lines.append("trust: " + (f"pinned ({trust_dir})" if trust_dir else
                                     "the bundle's own (give --trust to use roots obtained another way)"))
    try:
        evidence = json.loads((root / SIGNATURES).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        report.problems.append(f"{SIGNATURES}: missing or not JSON")
        evidence = []
    signed_present = set()
    for name in sorted(n for n in hashes if n.startswith("sheets/") and n.endswith(".json")):
        ev = sheet_signed.get(hashes[name])
        if ev is None:
            report.problems.append(f"{name}: not a sheet whose signature the log holds")
            continue
        signed_present.add(hashes[name])
        if hashes.get(name + ".p7s") != ev["payload"]["signature_sha256"]:
            report.problems.append(f"{name}.p7s: not the signature the log holds for this sheet")
            continue
        _signatures(root, name, trust, parse_time(ev["recorded_at"]), evidence, report)
    report.problems.extend(f"sheets/: the {ev['payload']['phase']} sheet v{ev['payload']['version']} of member "
                           f"{ev['payload']['member_id']}, signed at {ev['recorded_at']}, is missing"
                           for digest, ev in sorted(sheet_signed.items()) if digest not in signed_present)
    for name in sorted(n for n in hashes if n.startswith("report/")):
        version = _version(name)
        if name.endswith(".json"):
            if version not in produced or produced[version]["json_sha256"] != hashes[name]:
                report.problems.append(f"{name}: not the report the log holds as produced")
        elif (version, hashes[name]) not in revisions:
            report.problems.append(f"{name}: not a revision of the report the log holds")
        elif (ev := revisions[(version, hashes[name])]) is None:
            report.lines.append(f"{name}: the report as produced, never signed (a later version replaced it)")
        else:
            _signatures(root, name, trust, parse_time(ev["recorded_at"]), evidence, report)
    missing = sorted(v for v in produced if f"report/report-v{v}.pdf" not in hashes)
    report.problems.extend(f"report/report-v{v}.pdf: missing" for v in missing)


def _version(name: str) -> int:
    try:
        return int(PurePosixPath(name).stem.rsplit("-v", 1)[1])
    except (IndexError, ValueError):
        return -1


def _signatures(root: Path, name: str, trust: Any, at: dt.datetime, evidence: list[dict[str, Any]],
                report: BundleReport) -> None:
    checked = verify_file(root / name, trust, at, evidence=evidence)
    signatures = sum(1 for line in checked.lines if line.startswith("signature "))
    if checked.ok:
        report.lines.append(f"{name}: {signatures} signature(s) intact, valid and trusted")
    else:
        report.problems.append(f"{name}: its signatures do not verify: " + "; ".join(
            line.strip() for line in checked.lines if "problem" in line or " NO" in line))
