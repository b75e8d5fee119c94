"""The injected clock.

Everything that depends on time (token expiry, lockouts, deadlines, heartbeats, event times) asks a
:class:`Clock` instead of calling ``datetime.now()``, so tests move time instead of sleeping. The domain core
never reads a clock itself: callers pass it the time.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = ["Clock", "ManualClock", "SystemClock", "format_time", "parse_time"]


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to; for tests and replays. Thread-safe."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError(f"ManualClock needs an aware datetime (got naive {start!r})")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._now += delta
            return self._now


def format_time(t: datetime) -> str:
    """The canonical text form of an instant: UTC, microseconds, ``Z`` suffix.

    Used wherever a time is hashed or compared as text (the event chain), so that every database returns the
    same bytes that were hashed.
    """
    if t.tzinfo is None:
        raise ValueError(f"refusing a naive datetime {t!r}: times must carry a timezone")
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    """Inverse of :func:`format_time`."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)

