"""The transparency log at scale: batched appends per second, and proofs per second at a million leaves.

    .venv/bin/python tests/benchmarks/bench_tlog.py [--leaves 1000000] [--batch 10000] [--proofs 2000]

A fresh SQLite database (the embedded default, WAL, synchronous=FULL) gets ``--leaves`` events of a logged
kind (segment hashes, as a long session's recordings make them) written straight into the event chain; then
the log's writer (services/tlog.py ``append_pending``) appends them in batches of ``--batch`` leaves, one
transaction and one signed checkpoint per batch, and the time is taken. Then random inclusion proofs and
consistency proofs are served from the stored tree, as the public API does, and each is verified. Prints a
Markdown table for docs/benchmarks.md. Not a test.
"""

from __future__ import annotations

import argparse
import base64
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert  # noqa: E402
from timebase import T0  # noqa: E402

from evalroom.clock import SystemClock, format_time  # noqa: E402
from evalroom.config import load_settings  # noqa: E402
from evalroom.domain.events import GENESIS_HASH, next_event  # noqa: E402
from evalroom.services import tlog  # noqa: E402
from evalroom.storage import migrate  # noqa: E402
from evalroom.storage.db import make_engine  # noqa: E402
from evalroom.storage.models import EventHead, EventRow  # noqa: E402
from evalroom.storage.store import Store  # noqa: E402
from signing.note import open_note, parse_checkpoint  # noqa: E402
from signing.tlog import verify_consistency, verify_inclusion  # noqa: E402

RECORDED_AT = format_time(T0)
"""When the segments were recorded: T0 is never later than the real clock the log's writer runs on."""


def fill(store: Store, n: int) -> None:
    prev_seq, prev_hash, rows = 0, GENESIS_HASH, []
    for i in range(n):
        ev = next_event(prev_seq=prev_seq, prev_hash=prev_hash, recorded_at=RECORDED_AT,
                        actor="system:media", kind="media.segment_recorded", session_id="bench",
                        payload={"index": i, "sha256": f"{i:064x}"})
        rows.append({"seq": ev.seq, "recorded_at": ev.recorded_at, "actor": ev.actor, "kind": ev.kind,
                     "session_id": ev.session_id, "payload": dict(ev.payload), "prev_hash": ev.prev_hash,
                     "hash": ev.hash})
        prev_seq, prev_hash = ev.seq, ev.hash
        if len(rows) == 50_000 or i == n - 1:
            with store.write_quiet() as s:
                s.execute(insert(EventRow), rows)
            rows = []
    with store.write_quiet() as s:
        head = s.get(EventHead, 1)
        if head is None:
            s.add(EventHead(id=1, seq=prev_seq, hash=prev_hash))
        else:
            head.seq, head.hash = prev_seq, prev_hash


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--proofs", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(environ={}, overrides={"data_dir": Path(tmp), "environment": "development"})
        engine = make_engine(settings.effective_database_url)
        migrate.upgrade(engine)
        store = Store(engine, SystemClock())
        print(f"writing {args.leaves:,} events...", file=sys.stderr)
        fill(store, args.leaves)
        key = tlog.load_or_create_log_key(settings)
        t0 = time.perf_counter()
        appended = 0
        while appended < args.leaves:
            appended += tlog.append_pending(store, key, limit=args.batch)
        append_time = time.perf_counter() - t0
        note = tlog.checkpoint(store).note
        checkpoint = parse_checkpoint(open_note(note, key.signer.verifier))
        assert checkpoint.size == args.leaves

        rng = random.Random(7)
        t0 = time.perf_counter()
        for _ in range(args.proofs):
            index = rng.randrange(args.leaves)
            p = tlog.proof_inclusion(store, index, args.leaves)
            verify_inclusion(index, args.leaves, base64.b64decode(p["leaf_hash"]),
                             [base64.b64decode(x) for x in p["proof"]], checkpoint.root)
        inclusion_time = time.perf_counter() - t0
        t0 = time.perf_counter()
        for _ in range(args.proofs // 4):
            size1 = rng.randrange(1, args.leaves)
            c = tlog.proof_consistency(store, size1, args.leaves)
            verify_consistency(size1, args.leaves, [base64.b64decode(x) for x in c["proof"]],
                               base64.b64decode(c["root1"]), checkpoint.root)
        consistency_time = time.perf_counter() - t0
        db_mib = (Path(tmp) / "evalroom.db").stat().st_size / 2**20
        engine.dispose()
    print(f"{args.leaves:,} leaves in batches of {args.batch:,} (one transaction and one signed checkpoint each), "
          f"SQLite WAL synchronous=FULL, database {db_mib:.0f} MiB\n")
    print("| step | rate |")
    print("|---|---:|")
    print(f"| batched appends | {args.leaves / append_time:,.0f} leaves/s ({append_time:.1f} s in all) |")
    print(f"| inclusion proofs at {args.leaves:,} leaves, served from the stored tree and verified | "
          f"{args.proofs / inclusion_time:,.0f} proofs/s |")
    print(f"| consistency proofs at {args.leaves:,} leaves, served and verified | "
          f"{(args.proofs // 4) / consistency_time:,.0f} proofs/s |")


if __name__ == "__main__":
    main()
