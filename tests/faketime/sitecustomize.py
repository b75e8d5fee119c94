"""Loaded by every Python process of a moved-clock run (``tests/run.sh --faketime``, which puts this folder on
``PYTHONPATH``): works around one libfaketime bug, and does nothing else.

Under libfaketime the monotonic clock must stay real (``FAKETIME_DONT_FAKE_MONOTONIC=1``), or every timed wait on
a lock, event or queue (``sem_clockwait`` on ``CLOCK_MONOTONIC``) hangs. With it real, libfaketime 0.9.10
(Debian 12's) still shifts the absolute deadline of ``clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME)``, which
CPython 3.11's ``time.sleep`` uses, and the kernel answers EINVAL (libfaketime issue #426, fixed after 0.9.10).
A relative wait is untouched: ``time.sleep`` becomes ``select()`` with a timeout, which waits the same time.
"""

from __future__ import annotations

import os
import select
import time

if os.environ.get("FAKETIME") or "faketime" in os.environ.get("LD_PRELOAD", ""):

    def _sleep(seconds: float) -> None:
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        select.select([], [], [], seconds)

    time.sleep = _sleep
