"""The evidence bundle: one session's record in a zip that anyone can check offline (docs/formats.md, "Evidence
bundle").

``evalroom export SESSION`` writes it at the coordinator (:mod:`evalroom.evidence.export`); ``evalroom verify
FILE.zip`` checks it anywhere, with nothing but the file, and optionally the log's verifier key and a trust
bundle obtained some other way (:mod:`evalroom.evidence.verify`).

What makes it evidence rather than a copy: every event of the session is a leaf of the transparency log, and
the bundle carries each leaf's inclusion proof against a checkpoint the log signed (and the venues' witnesses
cosigned). So each event is proven as logged at the time; each file is then checked against what the proven
events say — every recording segment against the hash its event logged (domain/recording.py), each
manifest's chain and seal, each sheet and signature against ``signing.sheet_signed``, each report revision
against ``signing.report_signed`` / ``report.sealed`` — and the signatures themselves against the regions'
trust. ``BUNDLE.json`` lists every file with its SHA-256 and is signed by the log's key (``BUNDLE.sig``), so
that an altered file is named at once even where no event speaks of it (the trust bundle, the records).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

FORMAT = "evalroom-evidence-v1"
INDEX = "BUNDLE.json"
INDEX_SIGNATURE = "BUNDLE.sig"
EVENTS = "events.jsonl"
CHECKPOINT = "log/checkpoint.txt"
LOG_KEY = "log/key.txt"
PROOFS = "log/proofs.jsonl"
SESSION = "session.json"
SIGNATURES = "signatures.json"

__all__ = ["CHECKPOINT", "EVENTS", "FORMAT", "INDEX", "INDEX_SIGNATURE", "LOG_KEY", "PROOFS", "SESSION",
           "SIGNATURES", "index_note_text", "progress"]


def index_note_text(session_id: str, index_sha256: str) -> str:
    """The text the log's key signs over the index: what the bundle is, of which session, and the index's hash."""
    return f"{FORMAT}\n{session_id}\n{index_sha256}\n"


@contextlib.contextmanager
def progress(description: str, total: int) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr (bytes done of ``total``) when it is a terminal; silent otherwise."""
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
                  console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)
