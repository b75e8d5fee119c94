"""How a session's events log its recordings: the recorders' manifest lines, as events.

A recorder's every durable manifest line (a closed segment with its SHA-256, a gap, the seal of a track) is a
fact of the session that the replay, the evidence bundle and the venues' reconciliation check against. The
coordinator logs them in batches: one ``media.recorded`` event per session per interval carries the lines that
arrived meanwhile, in order (services/media.py), so that a room of fourteen tracks in 4-second segments costs an
event every few seconds rather than several a second, for every reader of the session. Before batching each
line was an event of its own (``media.segment_recorded``, ``media.gap``, ``media.track_sealed``), and databases
and bundles keep those: :func:`media_lines` reads both the same way.

Pure: no database, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["LINE_KINDS", "MEDIA_BATCH", "batch_payload", "line_of", "media_lines"]

MEDIA_BATCH = "media.recorded"
"""The event kind of a batch of recording lines: ``{"lines": [{"kind": ..., "payload": {...}}, ...]}``."""
LINE_KINDS = {"segment": "media.segment_recorded", "gap": "media.gap", "seal": "media.track_sealed"}
"""A manifest line's type → the kind of the line as the session's events name it."""


def line_of(publisher: str, track: str, entry: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """A recorder's manifest line as a logged line (kind and payload), or None for lines that are not logged
    (the manifest's header)."""
    kind = LINE_KINDS.get(entry.get("type", ""))
    if kind is None:
        return None
    return kind, {"publisher": publisher, "track": track,
                  **{k: v for k, v in entry.items() if k not in ("prev", "track")}}


def batch_payload(lines: Iterable[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    return {"lines": [{"kind": kind, "payload": payload} for kind, payload in lines]}


def media_lines(kind: str, payload: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """The recording lines an event logs, in order, as (kind, payload): a batch's lines, a line logged alone
    (before batching), or nothing for any other event."""
    if kind == MEDIA_BATCH:
        return [(line["kind"], line["payload"]) for line in payload.get("lines", ())]
    if kind in LINE_KINDS.values():
        return [(kind, payload)]
    return []
