"""The transparency log: public facts of every session in an RFC 6962 Merkle tree, with signed checkpoints.

**What goes in.** Every event of a session becomes a leaf (:func:`is_logged`): the canonical JSON of
``{"v": 2, "seq", "chain", "position", "kind", "session_id", "at", "event_hash"}`` (format-1 events, from before
schema 0015: ``{"v": 1, "seq", ...}`` without chain and position) plus, for the kinds whose content is public
(:data:`PUBLIC_KINDS`: commitments and seeds of draws, hashes of sheets, reports, signatures and recording
segments, lifecycle states), the event's ``payload``. A leaf commits to its event by the event's chain hash, so
a session's whole event history can be proven against a checkpoint (the evidence bundle), and the leaves' order
anchors every session's chain in one public order; while nothing of an
evaluation's confidential content (scores, who was drawn, complaints, results before publication) is exposed
by the log.

**How.** :func:`append_pending` is the log's only writer: it takes the log's head row under a lock, reads the
events after the last one it examined, appends the logged ones as leaves with the complete-subtree nodes they
complete (signing/tlog.py), and signs one checkpoint for the whole batch — one transaction, one fsync, however
many leaves. The coordinator runs it every ``log_batch_seconds``. Checkpoints are C2SP tlog-checkpoints in
signed notes (signing/note.py) by the log's Ed25519 key (``<key_dir>/log-ed25519.key``, made on first use on the
embedded default); venues' site agents cosign them as witnesses.

**Reading** is public and read-only (routes in api/routes/log.py): the newest checkpoint, the verifier key,
leaves, inclusion and consistency proofs.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from evalroom.config import Settings
from evalroom.domain.events import CHAINED, Event
from evalroom.errors import ApiError, ConfigError, ErrorCode, NotFoundError
from evalroom.storage.models import LogCheckpoint, LogHead, LogLeaf, LogNode
from evalroom.storage.store import Store, Tx, read_events
from signing.canonical import canonical_json
from signing.note import DASH, Checkpoint, NoteSigner, NoteVerifier, sign_note, signers_of
from signing.tlog import EMPTY_ROOT, ProofError, consistency_proof, inclusion_proof, leaf_hash, node_hash, root_hash

__all__ = ["PUBLIC_KINDS", "LogKey", "add_cosignature", "append_pending", "checkpoint", "is_logged", "leaf_data",
           "leaves", "load_or_create_log_key", "proof_consistency", "proof_inclusion", "record_alarm",
           "session_proofs", "witnessed"]

PUBLIC_KINDS = frozenset({
    # the events whose payload is public; of every other event of a session, the leaf holds its hash only
    "session.state_changed", "session.fault", "draw.committed", "draw.revealed", "sheet.submitted",
    "sheet.corrected", "report.produced", "report.sealed", "signing.sheet_signed", "signing.report_signed",
    "media.recorded", "media.segment_recorded", "media.gap", "media.track_sealed", "media.backup_recorded",
    # the candidates as published (中标候选人公示): public by definition
    "publication.published",
})
BATCH = 10_000
KEY_FILE = "log-ed25519.key"
"""PEM, but not named .pem: the key directory's *.pem files are the token-signing keys."""


@dataclass(frozen=True)
class LogKey:
    signer: NoteSigner
    origin: str


def load_or_create_log_key(settings: Settings) -> LogKey:
    """The log's signing key from the key directory; made there on first use on the embedded default."""
    path = settings.effective_key_dir / KEY_FILE
    origin = settings.log_origin or f"{urlsplit(settings.effective_public_url).hostname or 'localhost'}/evalroom-log"
    if not path.exists():
        if not (settings.is_embedded or settings.environment == "development"):
            raise ConfigError(f"no transparency-log key at {path}: provision one (Ed25519 PEM) for every coordinator")
        path.parent.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    key = load_pem_private_key(path.read_bytes(), None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{path} is not an Ed25519 key")
    return LogKey(NoteSigner(origin, key), origin)


def is_logged(event: Event) -> bool:
    """Every event of a session is a leaf, so that a session's whole history can be proven (the evidence
    bundle, evalroom/evidence); events of no session (accounts, registries) are the coordinator's own."""
    return event.session_id is not None


def leaf_data(event: Event) -> bytes:
    doc: dict[str, Any] = {"v": event.version, "seq": event.seq, "kind": event.kind, "session_id": event.session_id,
                           "at": event.recorded_at, "event_hash": event.hash}
    if event.version == CHAINED:
        doc |= {"chain": event.chain, "position": event.position}
    if event.kind in PUBLIC_KINDS:
        doc["payload"] = dict(event.payload)
    return canonical_json(doc)


class _Nodes:
    """Complete-subtree hashes from the database, with the batch's new ones laid over them."""

    def __init__(self, s: Session) -> None:
        self.s = s
        self.new: dict[tuple[int, int], bytes] = {}

    def node(self, level: int, index: int) -> bytes:
        if (level, index) in self.new:
            return self.new[(level, index)]
        row = self.s.get(LogNode, (level, index))
        if row is None:
            raise ProofError(f"no node {level}/{index}")
        return row.hash

    def put(self, level: int, index: int, value: bytes) -> None:
        self.new[(level, index)] = value


def append_pending(store: Store, key: LogKey, *, limit: int = BATCH) -> int:
    """Append the logged events not yet examined, in one transaction with one new checkpoint; the number of
    leaves appended."""
    with store.write_quiet() as s:
        head = s.get(LogHead, 1, with_for_update=True)
        if head is None:
            head = LogHead(id=1, size=0, root=EMPTY_ROOT, cursor_seq=0, updated_at=store.clock.now())
            s.add(head)
            s.flush()
        events = read_events(s, after_seq=head.cursor_seq, limit=limit)
        if not events:
            return 0
        now = store.clock.now()
        nodes, size, added = _Nodes(s), head.size, 0
        for event in events:
            if not is_logged(event):
                continue
            data = leaf_data(event)
            h = leaf_hash(data)
            s.add(LogLeaf(index=size, event_seq=event.seq, kind=event.kind, session_id=event.session_id,
                          data=data, leaf_hash=h, appended_at=now))
            nodes.put(0, size, h)
            level, index = 0, size
            while index % 2 == 1:  # this leaf completes subtrees: store their hashes once, for good
                nodes.put(level + 1, index // 2, node_hash(nodes.node(level, index - 1), nodes.node(level, index)))
                level, index = level + 1, index // 2
            size, added = size + 1, added + 1
        s.add_all(LogNode(level=lv, index=ix, hash=hv) for (lv, ix), hv in nodes.new.items())
        head.cursor_seq, head.updated_at = events[-1].seq, now
        if added:
            root = root_hash(nodes, size)
            head.size, head.root = size, root
            note = sign_note(Checkpoint(key.origin, size, root).text(), key.signer)
            s.add(LogCheckpoint(size=size, root=root, note=note, created_at=now))
        return added


# --- witnesses ----------------------------------------------------------------------------------------------------
def add_cosignature(store: Store, venue_code: str, public_keys: list[bytes], size: int, root_b64: str,
                    line: str) -> int:
    """Add a venue's cosignature to the checkpoint of ``size``: its line must verify with one of the venue's
    registered keys, under the venue's code, over that checkpoint. Returns the number of cosignatures."""
    with store.write_quiet() as s:
        row = s.get(LogCheckpoint, size, with_for_update=True)
        if row is None or base64.b64encode(row.root).decode() != root_b64:
            raise ApiError(ErrorCode.NOT_FOUND, f"no checkpoint of size {size} with that root")
        candidate = row.note + (line if line.endswith("\n") else line + "\n")
        if not any(signers_of(candidate, [NoteVerifier(venue_code, key)]) for key in public_keys):
            raise ApiError(ErrorCode.SIGNATURE_REJECTED, "the cosignature does not verify with the venue's key")
        if line.rstrip("\n") not in row.note.split("\n"):
            row.note = candidate
        return len(row.note.rstrip("\n").split("\n\n", 1)[1].split("\n")) - 1


def record_alarm(tx: Tx, actor: str, venue_code: str, size: int, detail: str) -> None:
    tx.record(actor=actor, kind="log.witness_alarm", payload={"venue": venue_code, "size": size, "detail": detail})


# --- reading ------------------------------------------------------------------------------------------------------
COSIGN_WINDOW = 1000
"""How many of the newest checkpoints :func:`log_state` looks through for one a witness cosigned: bounds the read
on a log whose witnesses have stopped (the metrics then say +Inf)."""


_recent = (select(LogCheckpoint.size, LogCheckpoint.note, LogCheckpoint.created_at)
           .order_by(LogCheckpoint.size.desc()).limit(COSIGN_WINDOW).subquery())
"""The newest :data:`COSIGN_WINDOW` checkpoints, where witness cosignatures are looked for."""


@dataclass(frozen=True)
class LogState:
    """The log as the admin's status page and the metrics report it."""

    size: int
    cursor: int
    """The last event sequence number the log writer examined."""
    checkpoint_at: datetime | None
    """When the newest checkpoint was signed; None: no checkpoint yet."""
    cosigned_size: int | None
    """The newest checkpoint that carries a witness cosignature, among the newest :data:`COSIGN_WINDOW`."""
    cosigned_at: datetime | None
    cosignatures: int
    """Witness cosignatures on that checkpoint."""


def log_state(s: Session) -> LogState:
    """One short read of the log's tables. A note's signature lines start with an em dash; the coordinator's is
    the first, so a second one is a witness's cosignature (signing/note.py)."""
    head = s.get(LogHead, 1)
    newest = s.execute(select(LogCheckpoint.created_at).order_by(LogCheckpoint.size.desc()).limit(1)).first()
    cosigned = s.execute(select(_recent.c.size, _recent.c.note, _recent.c.created_at)
                         .where(_recent.c.note.like(f"%\n{DASH}%\n{DASH}%"))
                         .order_by(_recent.c.size.desc()).limit(1)).first()
    return LogState(size=head.size if head else 0, cursor=head.cursor_seq if head else 0,
                    checkpoint_at=newest.created_at if newest else None,
                    cosigned_size=cosigned.size if cosigned else None,
                    cosigned_at=cosigned.created_at if cosigned else None,
                    cosignatures=sum(1 for line in cosigned.note.split("\n") if line.startswith(DASH)) - 1
                    if cosigned else 0)


def witnessed(s: Session) -> dict[str, tuple[int, datetime]]:
    """For each name that cosigned one of the newest :data:`COSIGN_WINDOW` checkpoints (a venue's code), the
    newest such checkpoint's size and time: whether each venue's witness keeps up. Signature lines are
    ``— <name> <signature>``; the coordinator's own (the first) is not a witness's. Added at verification
    (:func:`add_cosignature`), so a name here signed with the venue's key."""
    found: dict[str, tuple[int, datetime]] = {}
    for size, note, created_at in s.execute(select(_recent.c.size, _recent.c.note, _recent.c.created_at)
                                            .where(_recent.c.note.like(f"%\n{DASH}%\n{DASH}%"))
                                            .order_by(_recent.c.size.desc())):
        lines = [line for line in note.split("\n") if line.startswith(DASH)]
        for line in lines[1:]:
            found.setdefault(line[len(DASH):].split(" ", 1)[0], (size, created_at))
    return found


def _size(s: Session) -> int:
    head = s.get(LogHead, 1)
    return head.size if head else 0


def checkpoint(store: Store, size: int | None = None) -> LogCheckpoint:
    with store.read() as s:
        q = select(LogCheckpoint)
        row = s.scalars(q.where(LogCheckpoint.size == size) if size else
                        q.order_by(LogCheckpoint.size.desc()).limit(1)).first()
        if row is None:
            raise NotFoundError("checkpoint", str(size or "newest"))
        s.expunge(row)
        return row


def leaves(store: Store, start: int, end: int) -> list[dict[str, Any]]:
    with store.read() as s:
        rows = s.scalars(select(LogLeaf).where(LogLeaf.index >= start, LogLeaf.index < end)
                         .order_by(LogLeaf.index)).all()
        return [{"index": r.index, "event_seq": r.event_seq, "kind": r.kind,
                 "data": base64.b64encode(r.data).decode(), "leaf_hash": base64.b64encode(r.leaf_hash).decode()}
                for r in rows]


def _b64(hashes: list[bytes]) -> list[str]:
    return [base64.b64encode(h).decode() for h in hashes]


def proof_inclusion(store: Store, index: int, size: int) -> dict[str, Any]:
    with store.read() as s:
        if not 0 < size <= _size(s):
            raise ApiError(ErrorCode.INVALID_INPUT, f"the log has no tree of size {size}")
        if not 0 <= index < size:
            raise ApiError(ErrorCode.INVALID_INPUT, f"leaf {index} is not in a tree of {size}")
        nodes = _Nodes(s)
        leaf = s.get(LogLeaf, index)
        assert leaf is not None
        return {"index": index, "size": size, "leaf_hash": base64.b64encode(leaf.leaf_hash).decode(),
                "root": base64.b64encode(root_hash(nodes, size)).decode(),
                "proof": _b64(inclusion_proof(nodes, index, size))}


def session_proofs(s: Session, session_id: str, size: int) -> list[dict[str, Any]]:
    """Every leaf of a session in the tree of ``size``, each with its inclusion proof (for the evidence bundle)."""
    nodes = _Nodes(s)
    rows = s.scalars(select(LogLeaf).where(LogLeaf.session_id == session_id, LogLeaf.index < size)
                     .order_by(LogLeaf.index))
    return [{"index": r.index, "event_seq": r.event_seq, "data": base64.b64encode(r.data).decode(),
             "proof": _b64(inclusion_proof(nodes, r.index, size))} for r in rows]


def proof_consistency(store: Store, size1: int, size2: int) -> dict[str, Any]:
    with store.read() as s:
        if not 0 < size1 <= size2 <= _size(s):
            raise ApiError(ErrorCode.INVALID_INPUT, f"no consistency proof from {size1} to {size2} in this log")
        nodes = _Nodes(s)
        return {"from": size1, "to": size2, "root1": base64.b64encode(root_hash(nodes, size1)).decode(),
                "root2": base64.b64encode(root_hash(nodes, size2)).decode(),
                "proof": _b64(consistency_proof(nodes, size1, size2))}
