"""The ``evalroom`` command: serve, demo, database, keys, accounts, tokens, analysis, the site agent and its key.

Every subcommand but ``demo`` takes ``--config FILE`` and ``--data DIR``; settings come from defaults < file <
``EVALROOM_*`` environment < flags (evalroom.config). ``demo`` is self-contained: it ignores ``EVALROOM_*`` and
keeps everything under ``--out``. Exit codes: 0 success, 1 a check failed (e.g. the event chain is broken),
2 bad usage, bad configuration or an unreachable database.
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.exc import OperationalError

from evalroom import logs
from evalroom.clock import SystemClock
from evalroom.config import Settings, load_settings
from evalroom.errors import ApiError, ConfigError

__all__ = ["main"]

log = logging.getLogger("evalroom")


def _settings(args: argparse.Namespace, **overrides: Any) -> Settings:
    return load_settings(config_file=args.config, overrides={"data_dir": args.data, **overrides})


def _log_format(args: argparse.Namespace) -> str:
    """``log_format`` as configured, known before the command imports anything that logs (alembic does, as it
    is imported). ``demo``, ``site-agent`` and ``site-key`` read no settings; a configuration that does not load
    is reported by the command itself, so until then the lines stay text."""
    if not hasattr(args, "config"):
        return "text"
    try:
        return load_settings(config_file=args.config).log_format
    except ConfigError:
        return "text"


# --- serve ------------------------------------------------------------------------------------------------
def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from evalroom.api.app import create_app

    settings = _settings(args, host=args.host, port=args.port)
    app = create_app(settings)
    print(f"evalroom coordinator on {settings.effective_public_url}  (API docs: {settings.effective_public_url}/docs)",
          flush=True)
    # No access log: the request latency histogram (/metrics) counts requests, and errors are logged with their
    # request id. In json, uvicorn's own lines (start, stop, its errors) go through the root logger's JSON
    # formatter (log_config=None: uvicorn installs no handler of its own); in text they keep uvicorn's format.
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=args.log_level, access_log=False,
                **({"log_config": None} if settings.log_format == "json" else {}))
    return 0


# --- demo -------------------------------------------------------------------------------------------------
def cmd_demo(args: argparse.Namespace) -> int:
    from evalroom.demo import run_demo

    return run_demo(out=args.out, port=args.port, exit_after=args.exit)


# --- db ---------------------------------------------------------------------------------------------------
def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from evalroom.storage import migrate
    from evalroom.storage.db import make_engine

    settings = _settings(args)
    if settings.is_embedded:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.effective_database_url)
    before = migrate.current_revision(engine)
    migrate.upgrade(engine)
    print(f"database schema: {before or 'empty'} -> {migrate.current_revision(engine)}")
    engine.dispose()
    return 0


def cmd_db_current(args: argparse.Namespace) -> int:
    from evalroom.storage import migrate
    from evalroom.storage.db import make_engine

    engine = make_engine(_settings(args).effective_database_url)
    current, head = migrate.current_revision(engine), migrate.head_revision()
    print(f"current: {current or 'empty'}  newest known: {head}")
    engine.dispose()
    return 0 if current == head else 1


def cmd_db_verify_events(args: argparse.Namespace) -> int:
    from evalroom.domain.events import ChainBroken
    from evalroom.storage.db import make_engine
    from evalroom.storage.store import Store, verify_stored_chain

    engine = make_engine(_settings(args).effective_database_url)
    try:
        last = verify_stored_chain(Store(engine, SystemClock()))
    except ChainBroken as exc:
        print(f"BROKEN: {exc}")
        return 1
    finally:
        engine.dispose()
    print(f"ok: event chain intact, {last} events, head matches")
    return 0


def _events_from_file(path: Path) -> list[Any]:
    import json

    from evalroom.domain.events import LEGACY, Event, chain_of

    events = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                data.pop("redacted", None)
                data.setdefault("version", LEGACY)  # exported before schema 0015
                data.setdefault("chain", chain_of(data.get("session_id")))
                events.append(Event(**data))
            except (ValueError, TypeError, AttributeError) as exc:
                raise ConfigError(f"{path}:{n}: not an exported event ({exc})") from None
    return events


def cmd_pki_generate(args: argparse.Namespace) -> int:
    """Make the certificate hierarchies a declaration (TOML) describes: regions, experts' key stores, CRLs
    with the revoked ones, the coordinator's seal and time-stamping unit, and a trust bundle."""
    import tomllib

    from signing.declared import generate

    try:
        spec = tomllib.loads(args.spec.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read the declaration {args.spec}: {exc}") from None
    if args.out.exists() and any(args.out.iterdir()):
        raise ConfigError(f"{args.out} is not empty")
    try:
        manifest = generate(spec, args.out, SystemClock().now())
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    signers = sum(len(r["signers"]) for r in manifest["regions"].values())
    print(f"made {len(manifest['regions'])} region(s), {signers} signer key store(s) and the trust bundle "
          f"in {args.out} (see manifest.json)")
    return 0


def cmd_media_reconcile(args: argparse.Namespace) -> int:
    """Check a venue's backup recordings, as handed over, against the hashes its agent reported during the
    session: exit 0 if every logged segment is there and matches, 1 otherwise."""
    from evalroom.services.media import reconcile
    from evalroom.storage.db import make_engine
    from evalroom.storage.store import Store

    engine = make_engine(_settings(args).effective_database_url)
    try:
        result = reconcile(Store(engine, SystemClock()), args.session, args.venue, args.source)
    finally:
        engine.dispose()
    print(f"{args.venue}: {result.segments} logged segment(s) checked in {args.source}")
    for problem in result.problems:
        print(f"  problem: {problem}")
    print(f"verdict: {'OK' if result.ok else 'FAILED'}")
    return 0 if result.ok else 1


def cmd_trust_export(args: argparse.Namespace) -> int:
    """Write the coordinator's trust registry (regions' CA certificates, current CRLs, recognition list) as a
    trust bundle for ``evalroom verify --trust``."""
    from evalroom.services.seal import load_or_create_seal
    from evalroom.services.trust import export_bundle
    from evalroom.storage.db import make_engine
    from evalroom.storage.store import Store

    settings = _settings(args)
    clock = SystemClock()
    own = load_or_create_seal(settings, clock).anchors
    engine = make_engine(settings.effective_database_url)
    try:
        count = export_bundle(Store(engine, clock), args.out, own)
    finally:
        engine.dispose()
    print(f"wrote {count} trust domain(s) to {args.out} (the regions and the coordinator's own)")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Write an ended session's evidence bundle (evalroom/evidence): exit 0 when complete, 1 when the
    coordinator lacked a recorded file (the bundle names it), 2 when nothing was written."""
    from sqlalchemy import select

    from evalroom.evidence.export import export_session
    from evalroom.services.seal import load_or_create_seal
    from evalroom.services.tlog import load_or_create_log_key
    from evalroom.storage.db import make_engine
    from evalroom.storage.models import EvalSession
    from evalroom.storage.store import Store

    settings = _settings(args)
    clock = SystemClock()
    engine = make_engine(settings.effective_database_url)
    try:
        store = Store(engine, clock)
        with store.read() as s:
            session_id = s.scalar(select(EvalSession.id).where(
                (EvalSession.id == args.session) | (EvalSession.code == args.session)))
        if session_id is None:
            raise ConfigError(f"no session with the id or code {args.session!r}")
        out = args.out or Path(f"evidence-{args.session}.zip")
        result = export_session(store, settings, load_or_create_log_key(settings),
                                load_or_create_seal(settings, clock).anchors, session_id, out)
    finally:
        engine.dispose()
    print(f"wrote {result.path}: {result.files} files, {result.bytes:,} bytes; {result.events} events, "
          f"{result.leaves} of them proven in the log's checkpoint of {result.checkpoint_size} leaves")
    for problem in result.problems:
        print(f"  incomplete: {problem}")
    return 1 if result.problems else 0


def cmd_fees(args: argparse.Namespace) -> int:
    """Issue an ended session's fee batches (as POST /sessions/{id}/fee-batches does; a new version only when the
    figures changed) and write one as CSV or XLSX: exit 0, or 2 when nothing could be written."""
    from sqlalchemy import select

    from evalroom.api.context import open_store
    from evalroom.domain.roles import Principal, Role
    from evalroom.services import fees
    from evalroom.storage.models import EvalSession, FeeBatch, Venue

    settings = _settings(args)
    store = open_store(settings, SystemClock())
    try:
        with store.read() as s:
            session_id = s.scalar(select(EvalSession.id).where(
                (EvalSession.id == args.session) | (EvalSession.code == args.session)))
        if session_id is None:
            raise ConfigError(f"no session with the id or code {args.session!r}")
        with store.write() as tx:
            views, created = fees.issue(tx, settings, Principal(role=Role.COORDINATOR_ADMIN, subject="cli"), session_id)
        payers = {v["document"]["payer"]["code"]: v for v in views}
        if args.payer is None and len(payers) != 1:
            raise ConfigError(f"the session has {len(payers)} batches: name one with --payer "
                              f"({', '.join(sorted(payers))})")
        view = payers.get(args.payer) if args.payer else next(iter(payers.values()), None)
        if view is None:
            raise ConfigError(f"no batch paid by {args.payer!r} (payers: {', '.join(sorted(payers)) or 'none'})")
        with store.read() as s:
            row = s.get(FeeBatch, view["id"])
            s.expunge(row)
            payer = s.get(Venue, row.payer_venue_id).code
    finally:
        store.engine.dispose()
    data = fees.batch_csv(row, settings) if args.format == "csv" else fees.batch_xlsx(row, settings)
    out = args.out or Path(f"fees-{args.session}-{payer}-v{row.version}.{args.format}")
    out.write_bytes(data)
    print(f"wrote {out}: batch v{row.version} paid by {payer}, {len(row.content['lines'])} lines, total "
          f"{row.total} ({'new' if created else 'unchanged'})")
    return 0


def _verify_bundle(args: argparse.Namespace) -> int:
    from evalroom.evidence.verify import verify_bundle

    key = args.log_key
    if key and Path(key).is_file():
        key = Path(key).read_text(encoding="utf-8").strip()
    report = verify_bundle(args.file, log_key=key, trust_dir=args.trust)
    print(f"{args.file} (evidence bundle)")
    for line in report.lines:
        print(f"  {line}")
    for problem in report.problems:
        print(f"  FAILED: {problem}")
    print("verdict: VERIFIED: every file is the one the log proves" if report.ok else
          f"verdict: FAILED ({len(report.problems)} problem(s))")
    return 0 if report.ok else 1


def cmd_verify(args: argparse.Namespace) -> int:
    """Verify an evidence bundle (a zip), or the signatures of a report PDF or a score sheet, offline against a
    trust bundle: prints every check; exit 0 if all hold, 1 if any does not."""
    import datetime as dt
    import zipfile

    from signing.trust import load_bundle
    from signing.verify import verify_file

    if not args.file.is_file():
        raise ConfigError(f"{args.file}: no such file")
    if zipfile.is_zipfile(args.file):
        return _verify_bundle(args)
    if args.trust is None:
        raise ConfigError("--trust is needed to verify a PDF or a sheet (a bundle carries its own)")
    try:
        trust = load_bundle(args.trust)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"the trust bundle cannot be read: {exc}") from None
    at = dt.datetime.fromisoformat(args.at) if args.at else SystemClock().now()
    if at.tzinfo is None:
        raise ConfigError("--at needs a time zone (e.g. 2026-11-21T09:00:00+08:00)")
    evidence_path = args.evidence or args.file.with_name("signatures.json")
    evidence = None
    if args.evidence or evidence_path.is_file():
        try:
            evidence = json.loads(evidence_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"the signature records cannot be read: {exc}") from None
        if not isinstance(evidence, list):
            raise ConfigError(f"{evidence_path}: not a list of signature records")
    report = verify_file(args.file, trust, at, args.signature, evidence)
    print(f"{args.file} ({report.kind})" + (f"; factor evidence from {evidence_path}" if evidence is not None else ""))
    for line in report.lines:
        print(f"  {line}")
    print(f"verdict: {'OK' if report.ok else 'FAILED'}")
    return 0 if report.ok else 1


def cmd_verify_log(args: argparse.Namespace) -> int:
    """Check a transparency log against its signed checkpoint: fetched from a coordinator (``--url``, and saved
    with ``--save DIR``) or from such a directory (``--dir``), with the log's key given or pinned in the
    directory. Optionally an inclusion proof (``--proof FILE``, as the API answers it). Exit 0 if all holds."""
    import base64

    import httpx

    from signing.note import NoteError, NoteVerifier, open_note, parse_checkpoint
    from signing.tlog import ProofError, audit, verify_inclusion

    if args.url:
        with httpx.Client(base_url=args.url.rstrip("/"), timeout=30) as http:
            note = http.get("/api/v1/log/checkpoint").raise_for_status().text
            vkey = args.key or http.get("/api/v1/log/key").raise_for_status().text.strip()
            size = parse_checkpoint(note.split("\n\n")[0] + "\n").size
            leaves = []
            while len(leaves) < size:
                page = http.get("/api/v1/log/leaves", params={"start": len(leaves),
                                                              "end": min(size, len(leaves) + 1000)}).json()
                leaves.extend(base64.b64decode(x["data"]) for x in page)
        if args.save:
            args.save.mkdir(parents=True, exist_ok=True)
            (args.save / "checkpoint.txt").write_text(note, encoding="utf-8")
            (args.save / "key.txt").write_text(vkey + "\n", encoding="utf-8")
            (args.save / "leaves.jsonl").write_text("".join(
                json.dumps({"data": base64.b64encode(x).decode()}) + "\n" for x in leaves), encoding="utf-8")
    elif args.dir:
        try:
            note = (args.dir / "checkpoint.txt").read_text(encoding="utf-8")
            vkey = args.key or (args.dir / "key.txt").read_text(encoding="utf-8").strip()
            leaves = [base64.b64decode(json.loads(line)["data"])
                      for line in (args.dir / "leaves.jsonl").read_text(encoding="utf-8").splitlines() if line]
        except (OSError, ValueError, KeyError) as exc:
            raise ConfigError(f"{args.dir}: not a saved log ({exc})") from None
    else:
        raise ConfigError("give --url or --dir")
    size, problems = audit(note, vkey, leaves)
    if args.proof and not problems:
        try:
            proof = json.loads(args.proof.read_text(encoding="utf-8"))
            checkpoint = parse_checkpoint(open_note(note, NoteVerifier.from_vkey(vkey)))
            if proof["size"] != checkpoint.size:
                problems.append(f"the proof is for size {proof['size']}, the checkpoint is {checkpoint.size}")
            else:
                verify_inclusion(proof["index"], proof["size"], base64.b64decode(proof["leaf_hash"]),
                                 [base64.b64decode(p) for p in proof["proof"]], checkpoint.root)
                print(f"inclusion: leaf {proof['index']} is in the checkpointed tree")
        except (OSError, ValueError, KeyError, ProofError, NoteError) as exc:
            problems.append(f"the inclusion proof: {exc}")
    print(f"log of {size} leaves, checkpoint signed by {vkey.split('+')[0]}")
    for problem in problems:
        print(f"  problem: {problem}")
    print(f"verdict: {'OK' if not problems else 'FAILED'}")
    return 0 if not problems else 1


def cmd_verify_draw(args: argparse.Namespace) -> int:
    """Recompute draws from the logged events (the database, or an events.jsonl export) and say whether each
    matches: exit 0 if the chain and every draw check out, 1 if anything does not, 2 if there is no draw."""
    from evalroom.domain.draw_audit import audit_draws
    from evalroom.domain.events import ChainBroken, verify_events

    if args.events is not None:
        events = _events_from_file(args.events)
        source = str(args.events)
        try:
            verify_events(events, complete=False)
            chain = f"intact ({len(events)} events)"
        except ChainBroken as exc:
            chain = f"BROKEN: {exc}"
    else:
        from evalroom.storage.db import make_engine
        from evalroom.storage.store import Store, read_events, verify_stored_chain

        engine = make_engine(_settings(args).effective_database_url)
        store = Store(engine, SystemClock())
        source = "the database"
        try:
            try:
                chain = f"intact ({verify_stored_chain(store)} events)"
            except ChainBroken as exc:
                chain = f"BROKEN: {exc}"
            with store.read() as s:
                events = read_events(s, session_id=args.session, limit=10_000_000)
        finally:
            engine.dispose()
    audits = audit_draws(events, draw_ids=args.draw_id, session_id=args.session)
    print(f"event chain in {source}: {chain}")
    if not audits:
        print("no draw found")
        return 2
    for a in audits:
        what = f"draw {a.draw_id} ({a.purpose or '?'}, session {a.session_id})"
        if a.ok:
            if a.outcome == "drawn" and a.purpose == "guest":
                detail = "the chosen guest venue is first in the order recomputed from the revealed seed"
            elif a.outcome == "drawn":
                detail = f"{a.picks} pick(s) recomputed from the revealed seed"
            elif a.failure and a.failure.startswith("pool too small"):
                detail = "logged as failed, and it fails again when recomputed"
            else:
                detail = f"logged as failed before drawing: {a.failure}"
            print(f"{what}: ok: commitment matches the revealed seed; {detail}")
        else:
            print(f"{what}: MISMATCH: " + "; ".join(a.problems))
    return 0 if chain.startswith("intact") and all(a.ok for a in audits) else 1


def cmd_experts_import(args: argparse.Namespace) -> int:
    """Import a region's expert pool from a file, as POST /regions/{id}/experts/import does (all or nothing)."""
    from sqlalchemy import select

    from evalroom.api.context import build_context
    from evalroom.services.experts import import_experts
    from evalroom.storage.models import Region

    fmt = args.format or args.file.suffix.lstrip(".").lower()
    try:
        data = args.file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {args.file}: {exc.strerror}") from None
    ctx = build_context(_settings(args))
    try:
        with ctx.store.read() as s:
            region_id = s.scalar(select(Region.id).where(Region.code == args.region))
        if region_id is None:
            raise ConfigError(f"no region with code {args.region!r}")
        try:
            with ctx.store.write() as tx:
                result = import_experts(tx, ctx.sealer, ctx.committee.tree, "system:cli", region_id, data, fmt)
        except ApiError as exc:
            print(f"evalroom: {exc.message}", file=sys.stderr)
            for d in exc.details or []:
                print(f"  row {d['row']}: {d['field']}: {d['code']}: {d['message']}", file=sys.stderr)
            return 1
    finally:
        ctx.close()
    print(f"region {args.region}: {result.created} created, {result.updated} updated, {result.unchanged} unchanged "
          f"(file sha256 {result.file_sha256})")
    return 0


# --- analysis ---------------------------------------------------------------------------------------------
def cmd_tendency(args: argparse.Namespace) -> int:
    """Write the scoring-tendency report of a period (as the coordinator admin: every session) to a directory:
    report.csv, report.json and the plots as SVG and PNG; print the flagged experts. Exit 0 whatever is found:
    a flag is a lead for a supervisor, not a failure."""
    from datetime import date

    from evalroom.domain.roles import Principal, Role
    from evalroom.services.tendency import analyse_period
    from evalroom.storage.db import make_engine
    from evalroom.storage.store import Store
    from evalroom.tendency_report import PLOTS, render_csv, render_plot, to_json

    try:
        start, end = date.fromisoformat(args.start), date.fromisoformat(args.end)
    except ValueError as exc:
        raise ConfigError(f"--from and --to are dates, YYYY-MM-DD: {exc}") from None
    settings = _settings(args)
    engine = make_engine(settings.effective_database_url)
    try:
        analysis = analyse_period(Store(engine, SystemClock()), Principal(role=Role.COORDINATOR_ADMIN,
                                                                          subject="cli"),
                                  start, end, basis=args.basis, tz=settings.local_timezone)
    finally:
        engine.dispose()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.csv").write_bytes(render_csv(analysis))
    (out / "report.json").write_text(json.dumps(to_json(analysis), ensure_ascii=False, indent=1) + "\n",
                                     encoding="utf-8")
    for plot in PLOTS:
        for fmt in ("svg", "png"):
            (out / f"{plot}.{fmt}").write_bytes(render_plot(analysis, plot, fmt))
    report = analysis.report
    print(f"{start} to {end} (exclusive), {analysis.basis} sheets: {report.sessions} sessions, "
          f"{len(report.experts)} experts, {len(report.flagged)} flagged")
    for e in report.flagged:
        label = analysis.experts.get(e.expert)
        for f in e.flags:
            bidder = f" {analysis.bidders.get(f.bidder, f.bidder)}" if f.bidder else ""
            print(f"  {label.text if label else e.expert}: {f.kind}{bidder}: {f.reason}")
    print(f"wrote {out}/report.csv, report.json, " + ", ".join(f"{p}.svg, {p}.png" for p in PLOTS))
    return 0


# --- keys -------------------------------------------------------------------------------------------------
def _key_dir(args: argparse.Namespace) -> Path:
    return args.key_dir or _settings(args).effective_key_dir


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    from evalroom.auth.keys import KeyRing

    key = KeyRing.add_key(_key_dir(args), SystemClock().now())
    print(f"new signing key {key.kid} is now active; retire old keys after the longest token lifetime")
    return 0


def cmd_keys_sealing(args: argparse.Namespace) -> int:
    """Create the sealing key (identity numbers, draw seeds) once; copy the same file to every coordinator."""
    from evalroom.auth.sealing import SEALING_KEY_FILE, load_or_create_sealer

    key_dir = _key_dir(args)
    if (key_dir / SEALING_KEY_FILE).exists():
        print(f"evalroom: {key_dir / SEALING_KEY_FILE} exists; a new key would make sealed data unreadable",
              file=sys.stderr)
        return 2
    load_or_create_sealer(key_dir, may_create=True)
    print(f"created {key_dir / SEALING_KEY_FILE}; back it up with the database and give every coordinator a copy")
    return 0


def cmd_keys_log(args: argparse.Namespace) -> int:
    """Create the transparency log's signing key (Ed25519) once; copy the same file to every coordinator."""
    from evalroom.services.tlog import KEY_FILE, load_or_create_log_key

    settings = _settings(args).model_copy(update={"key_dir": _key_dir(args), "environment": "development"})
    path = settings.effective_key_dir / KEY_FILE
    if path.exists():
        print(f"evalroom: {path} exists; a new key would sign checkpoints the witnesses do not know", file=sys.stderr)
        return 2
    key = load_or_create_log_key(settings)  # "development": making it is what was asked for
    print(f"created {path}; give every coordinator a copy. Its verifier key (for witnesses and auditors):")
    print(key.signer.verifier.vkey)
    return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    from evalroom.auth.keys import KeyRing

    ring = KeyRing.load(_key_dir(args))
    for kid in ring.kids:
        print(f"{kid}{'  (active)' if kid == ring.active.kid else ''}")
    return 0


def cmd_keys_retire(args: argparse.Namespace) -> int:
    from evalroom.auth.keys import KeyRing

    KeyRing.retire(_key_dir(args), args.kid)
    print(f"retired {args.kid}; tokens it signed no longer verify")
    return 0


# --- accounts and tokens ----------------------------------------------------------------------------------
def _read_password(args: argparse.Namespace) -> str:
    if args.password_file:
        return Path(args.password_file).read_text(encoding="utf-8").strip()
    if not sys.stdin.isatty():
        return sys.stdin.readline().strip()
    first = getpass.getpass("password: ")
    if first != getpass.getpass("again: "):
        raise ConfigError("the passwords differ")
    return first


def cmd_account_create(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from evalroom.api.context import open_store
    from evalroom.schemas import AccountCreate
    from evalroom.services.accounts import create_account

    settings = _settings(args)
    try:
        data = AccountCreate(username=args.username, display_name=args.display_name or args.username,
                             role=args.role, venue_id=args.venue, password=_read_password(args))
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "account"
        raise ConfigError(f"invalid account: {field}: {first['msg']}") from None
    store = open_store(settings, SystemClock())
    try:
        with store.write() as tx:
            account = create_account(tx, "system:cli", data)
        print(f"created {account.role} account {account.username} ({account.id})")
    finally:
        store.engine.dispose()
    return 0


def cmd_token_issue(args: argparse.Namespace) -> int:
    """Mint a token directly with the coordinator's key, for operators' scripts and for site agents and
    experts until their own credentials (venue credential, check-in) are in place."""
    from evalroom.api.context import build_context
    from evalroom.clock import format_time
    from evalroom.domain.roles import Principal, Role, SupervisorLevel

    ctx = build_context(_settings(args))
    try:
        principal = Principal(role=Role(args.role), subject=args.subject, venue_id=args.venue,
                              session_id=args.session, seat=args.seat,
                              supervised={s: SupervisorLevel(args.level) for s in args.supervise or []})
        issued = ctx.tokens.issue(principal, audience=args.audience,
                                  lifetime=timedelta(minutes=args.minutes) if args.minutes is not None else None)
        # Minting a credential is an act worth auditing, like a login.
        with ctx.store.write() as tx:
            tx.record(actor="system:cli", kind="token.issued",
                      payload={"role": principal.role.value, "subject": principal.subject, "jti": issued.jti,
                               "audience": args.audience, "expires_at": format_time(issued.expires_at)})
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    finally:
        ctx.close()
    print(issued.token)
    return 0


# --- site agent -------------------------------------------------------------------------------------------
def cmd_site_agent(args: argparse.Namespace) -> int:
    import asyncio
    import signal

    from sites.agent import AgentConfig, SiteAgent

    try:
        agent = SiteAgent(AgentConfig(venue=args.venue, coordinator=args.coordinator, key_file=args.key,
                                      inventory_file=args.inventory, state_dir=args.state_dir,
                                      auto_confirm=args.auto_confirm, ping_interval=args.ping_interval,
                                      ping_timeout=args.ping_timeout, media_file=args.media,
                                      witness_seconds=args.witness_seconds))
    except (OSError, ValueError) as exc:
        print(f"evalroom site-agent: {exc}", file=sys.stderr)
        return 2

    async def run() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, agent.stop)
        await agent.run()

    print(f"site agent for {args.venue} -> {args.coordinator} (state in {args.state_dir})", flush=True)
    asyncio.run(run())
    return 0


# --- the seat's local signer ---------------------------------------------------------------------------------
def cmd_seat_signer(args: argparse.Namespace) -> int:
    """Offer the expert's key to the expert's page on loopback (evalroom/seat_signer.py)."""
    import socket

    import uvicorn
    from cryptography import x509

    from evalroom.seat_signer import Pkcs11Source, SoftStoreSource, create_signer_app
    from signing.tokens import Pkcs11Token, SoftKeyStore

    if args.keystore:
        source: SoftStoreSource | Pkcs11Source = SoftStoreSource(SoftKeyStore(args.keystore))
    else:
        if not (args.pkcs11_module and args.token_label and args.certificate):
            print("evalroom seat-signer: give --keystore, or --pkcs11-module, --token-label and --certificate",
                  file=sys.stderr)
            return 2
        try:
            certificate = x509.load_pem_x509_certificate(args.certificate.read_bytes())
            chain = x509.load_pem_x509_certificates(args.chain.read_bytes()) if args.chain else []
        except (OSError, ValueError) as exc:
            print(f"evalroom seat-signer: {exc}", file=sys.stderr)
            return 2
        guard_dir = args.state_dir or Path.home() / ".evalroom"
        guard_dir.mkdir(parents=True, exist_ok=True)
        source = Pkcs11Source(Pkcs11Token(args.pkcs11_module, args.token_label, args.key_label, guard_dir),
                              certificate, chain)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))  # loopback only, whatever else the machine listens on
    sock.listen(64)  # before the line below: whoever reads it can connect at once
    print(f"seat signer ({source.label}) on http://127.0.0.1:{sock.getsockname()[1]} for {', '.join(args.origin)}",
          flush=True)
    server = uvicorn.Server(uvicorn.Config(create_signer_app(source, args.origin), log_level="warning",
                                           access_log=False))
    server.run(sockets=[sock])
    return 0


def cmd_site_key(args: argparse.Namespace) -> int:
    """Make a venue credential: the private key stays in --out (mode 0600); the public key is printed for the
    coordinator admin to register (POST /api/v1/venues/{id}/credentials)."""
    import base64
    import os

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from sites.protocol import credential_id

    if args.out.exists():
        print(f"evalroom site-key: {args.out} exists; refusing to overwrite a credential", file=sys.stderr)
        return 2
    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    print(f"credential id: {credential_id(key.public_key())}")
    print(f"public key:    {base64.urlsafe_b64encode(raw).rstrip(b'=').decode()}")
    return 0


# --- parser -----------------------------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, help="TOML configuration file (or $EVALROOM_CONFIG)")
    common.add_argument("--data", type=Path, help="state directory of the embedded default (database, keys)")

    p = argparse.ArgumentParser(prog="evalroom", description="Remote cross-region bid evaluation (远程异地评标).")
    p.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, fn: Callable[[argparse.Namespace], int], help_: str, parent: Any = sub) -> argparse.ArgumentParser:
        sp = parent.add_parser(name, parents=[common], help=help_, description=help_)
        sp.set_defaults(fn=fn)
        return sp

    sp = add("serve", cmd_serve, "run the coordinator")
    sp.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    sp.add_argument("--port", type=int, help="port (default 8700)")
    sp.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])

    sp = sub.add_parser("demo", help="run a scripted remote evaluation on the embedded default, then keep serving",
                        description="Run a scripted remote evaluation on the embedded default, then keep serving.")
    sp.set_defaults(fn=cmd_demo)
    sp.add_argument("--out", type=Path, default=Path("evalroom-demo"), help="where everything it produces goes")
    sp.add_argument("--port", type=int, default=8700)
    sp.add_argument("--exit", action="store_true", help="exit when the scripted part is done (writes OUT/summary.json)")

    db = sub.add_parser("db", help="database schema and integrity").add_subparsers(dest="db_command", required=True)
    add("upgrade", cmd_db_upgrade, "upgrade the schema to the newest revision", db)
    add("current", cmd_db_current, "show the schema revision (exit 1 if not the newest)", db)
    add("verify-events", cmd_db_verify_events, "check the whole event chain (exit 1 if broken)", db)

    experts = sub.add_parser("experts", help="expert pools").add_subparsers(dest="experts_command", required=True)
    sp = add("import", cmd_experts_import, "import a region's expert pool from CSV or JSON (nothing on any error)",
             experts)
    sp.add_argument("--region", required=True, help="the region's code, e.g. SD")
    sp.add_argument("--format", choices=["csv", "json"], help="default: from the file's extension")
    sp.add_argument("file", type=Path)

    pki = sub.add_parser("pki", help="certificate hierarchies for demos and tests").add_subparsers(
        dest="pki_command", required=True)
    sp = add("generate", cmd_pki_generate, "make the CA hierarchies, key stores and trust bundle a TOML file "
                                            "declares (docs/formats.md)", pki)
    sp.add_argument("spec", type=Path, help="the declaration (TOML)")
    sp.add_argument("--out", type=Path, required=True, help="an empty or new directory")
    media_cmd = sub.add_parser("media", help="recordings").add_subparsers(dest="media_command", required=True)
    sp = add("reconcile", cmd_media_reconcile, "check a venue's backup recordings against the hashes logged "
                                                "during the session", media_cmd)
    sp.add_argument("--session", required=True, help="the session's id")
    sp.add_argument("--venue", required=True, help="the venue's code")
    sp.add_argument("--from", dest="source", type=Path, required=True,
                    help="the venue's recordings of the session (its agent's recordings/<session> directory)")
    trust_cmd = sub.add_parser("trust", help="regions' certificate authorities").add_subparsers(
        dest="trust_command", required=True)
    sp = add("export", cmd_trust_export, "write the trust registry as a bundle for evalroom verify", trust_cmd)
    sp.add_argument("--out", type=Path, required=True, help="directory to write (created)")
    sp = add("export", cmd_export, "write an ended session's evidence bundle (a zip anyone can verify offline)")
    sp.add_argument("session", help="the session's id or code")
    sp.add_argument("--out", type=Path, help="the zip to write (default evidence-SESSION.zip here)")
    sp = add("fees", cmd_fees, "issue an ended session's expert fee batches and write one as CSV or XLSX")
    sp.add_argument("session", help="the session's id or code")
    sp.add_argument("--format", choices=["csv", "xlsx"], default="csv")
    sp.add_argument("--out", type=Path, help="the file to write (default fees-SESSION-PAYER-vN.FORMAT here)")
    sp.add_argument("--payer", help="the paying venue's code, when there are several batches (fee_payer venue)")
    sp = add("verify", cmd_verify, "verify an evidence bundle, or the signatures of a report PDF or a score sheet "
                                   "(and its .p7s), offline")
    sp.add_argument("file", type=Path, help="an evidence bundle (.zip), a report PDF, or a sheet's canonical JSON "
                                            "with FILE.p7s beside it")
    sp.add_argument("--trust", type=Path, help="trust bundle directory (docs/formats.md); a bundle carries its own")
    sp.add_argument("--log-key", help="an evidence bundle's log verifier key (name+id+key, or a file with it), "
                                      "pinned instead of the one in the bundle")
    sp.add_argument("--signature", type=Path, help="a sheet's detached signature, if not FILE.p7s")
    sp.add_argument("--evidence", type=Path, help="the coordinator's signature records (JSON, as GET "
                                                  ".../signatures gives them); default signatures.json beside FILE")
    sp.add_argument("--at", help="judge trust at this time (ISO 8601 with zone); default now, or a signature's "
                                 "time-stamp")
    sp = add("verify-log", cmd_verify_log, "check the transparency log (all leaves against the signed checkpoint, "
                                           "and an inclusion proof) from a coordinator or a saved copy")
    sp.add_argument("--url", help="the coordinator's URL: fetch the checkpoint, key and leaves")
    sp.add_argument("--dir", type=Path, help="a saved copy (checkpoint.txt, key.txt, leaves.jsonl)")
    sp.add_argument("--save", type=Path, help="with --url: also save what was fetched here")
    sp.add_argument("--key", help="the log's verifier key (name+id+key); default: fetched or saved")
    sp.add_argument("--proof", type=Path, help="an inclusion proof (JSON, as /api/v1/log/proofs/inclusion gives)")
    sp = add("verify-draw", cmd_verify_draw, "recompute expert draws from the log and say whether they match")
    sp.add_argument("draw_id", nargs="*", help="draws to check (default: every draw)")
    sp.add_argument("--session", help="only the draws of this session")
    sp.add_argument("--events", type=Path, help="an events.jsonl export to check instead of the database")

    sp = add("tendency", cmd_tendency, "the scoring-tendency report (打分倾向) of the sessions that ended in a "
                                       "period: CSV, JSON and plots (docs/analysis.md)")
    sp.add_argument("--from", dest="start", required=True, help="first local date of the period, YYYY-MM-DD")
    sp.add_argument("--to", dest="end", required=True, help="the local date after the period (exclusive)")
    sp.add_argument("--basis", choices=["final", "submitted"], default="final",
                    help="the newest sheet versions (default) or each member's first submission")
    sp.add_argument("--out", type=Path, required=True, help="directory to write (created)")

    keys = sub.add_parser("keys", help="token-signing, sealing and transparency-log keys").add_subparsers(dest="keys_command",
                                                                                        required=True)
    for name, fn, help_ in (("rotate", cmd_keys_rotate, "add a new key and make it the active one"),
                            ("list", cmd_keys_list, "list keys"),
                            ("sealing", cmd_keys_sealing, "create the sealing key (once, before the first start)"),
                            ("log", cmd_keys_log, "create the transparency log's signing key (once, before the first "
                                                  "start)"),
                            ("retire", cmd_keys_retire, "remove a key; tokens it signed stop verifying")):
        sp = add(name, fn, help_, keys)
        sp.add_argument("--key-dir", type=Path, help="default: <data>/keys")
        if name == "retire":
            sp.add_argument("kid")

    acct = sub.add_parser("account", help="staff accounts").add_subparsers(dest="account_command", required=True)
    sp = add("create", cmd_account_create, "create a staff account (password from --password-file, stdin or prompt)", acct)
    sp.add_argument("--username", required=True)
    sp.add_argument("--display-name")
    sp.add_argument("--role", required=True, choices=["coordinator-admin", "hall-operator", "supervisor"])
    sp.add_argument("--venue", help="venue id (hall operators)")
    sp.add_argument("--password-file")

    tok = sub.add_parser("token", help="access tokens").add_subparsers(dest="token_command", required=True)
    sp = add("issue", cmd_token_issue, "mint an access token with this coordinator's key", tok)
    sp.add_argument("--role", required=True, choices=["coordinator-admin", "hall-operator", "expert", "supervisor", "site-agent"])
    sp.add_argument("--subject", required=True)
    sp.add_argument("--venue")
    sp.add_argument("--session")
    sp.add_argument("--seat")
    sp.add_argument("--supervise", action="append", metavar="SESSION_ID")
    sp.add_argument("--level", default="primary", choices=["primary", "secondary"])
    sp.add_argument("--audience", default="evalroom-api", choices=["evalroom-api", "evalroom-site", "evalroom-media"])
    sp.add_argument("--minutes", type=int)

    sp = sub.add_parser("site-agent", help="run a venue's site agent (connects to the coordinator)",
                        description="Run a venue's site agent: report rooms, seats and devices, send heartbeats, "
                                    "receive offers; reconnects and resumes by itself.")
    sp.set_defaults(fn=cmd_site_agent)
    sp.add_argument("--venue", required=True, help="the venue's code, e.g. JN-GGZY")
    sp.add_argument("--coordinator", required=True, help="the coordinator's URL, e.g. https://coordinator.example")
    sp.add_argument("--key", type=Path, required=True, help="the venue credential (from 'evalroom site-key')")
    sp.add_argument("--inventory", type=Path, required=True, help="rooms, seats and device states (TOML)")
    sp.add_argument("--state-dir", type=Path, required=True, help="where received events and status are kept")
    sp.add_argument("--auto-confirm", action="store_true", help="confirm pending offers (seats chosen by the coordinator)")
    sp.add_argument("--witness-seconds", type=float, default=5.0,
                    help="how often to check and cosign the coordinator's transparency log")
    sp.add_argument("--media", type=Path, help="the venue's cameras and microphones (JSON, docs/formats.md), published "
                                               "in its running sessions and recorded locally as the backup")
    sp.add_argument("--ping-interval", type=float, default=5.0, help="seconds between websocket pings")
    sp.add_argument("--ping-timeout", type=float, default=10.0, help="seconds without a pong before the link is lost")

    sp = sub.add_parser("seat-signer", help="offer the expert's key (UKey or key store) to the expert's page",
                        description="Run the seat's local signer on 127.0.0.1: the expert's page in the browser "
                                    "hands it documents and the PIN; the key never leaves the seat "
                                    "(docs/signing.md, 'Signing from the browser').")
    sp.set_defaults(fn=cmd_seat_signer)
    sp.add_argument("--origin", action="append", required=True,
                    help="the coordinator's URL whose pages may use the signer (repeat for several)")
    sp.add_argument("--port", type=int, default=47300, help="loopback port (0: any free one, printed)")
    sp.add_argument("--keystore", type=Path, help="a PIN-protected PKCS#12 key store")
    sp.add_argument("--pkcs11-module", help="the UKey vendor's PKCS#11 module (e.g. libsofthsm2.so)")
    sp.add_argument("--token-label", help="the token's label")
    sp.add_argument("--key-label", default="sign", help="the signing key's label on the token")
    sp.add_argument("--certificate", type=Path, help="PEM: the certificate the region issued for the token's key")
    sp.add_argument("--chain", type=Path, help="PEM: the issuing CA certificates")
    sp.add_argument("--state-dir", type=Path, help="where wrong PINs are counted (default ~/.evalroom)")

    sp = sub.add_parser("site-key", help="make a venue credential (Ed25519 key) for a site agent",
                        description="Make a venue credential: writes the private key, prints the public key.")
    sp.set_defaults(fn=cmd_site_key)
    sp.add_argument("--out", type=Path, required=True, help="file for the private key (created with mode 0600)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not args.verbose:
        for noisy in ("alembic", "httpx"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        logs.configure(_log_format(args))
        return args.fn(args)
    except (ConfigError, ApiError) as exc:
        print(f"evalroom: {exc}", file=sys.stderr)
        return 2
    except OperationalError as exc:
        print(f"evalroom: the database is unreachable or unusable: {exc.orig}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
