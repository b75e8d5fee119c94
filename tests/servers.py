"""Real coordinators in subprocesses, for tests and benchmarks that need the process boundary (kills, restarts)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from pg import free_port

__all__ = ["Coordinator", "evalroom_cli"]


def evalroom_cli(*args: str, env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "evalroom", *args], env=env, input=stdin, text=True,
                          capture_output=True, check=True, timeout=120)


class Coordinator:
    def __init__(self, data: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = (data / f"serve-{self.port}.log").open("w")
        self.proc = subprocess.Popen([sys.executable, "-m", "evalroom", "serve", "--data", str(data),
                                      "--port", str(self.port), "--log-level", "warning"],
                                     env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.base}/api/v1/ready", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"coordinator did not become ready: {(data / self.log.name).read_text()}")
            time.sleep(0.1)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self.log.close()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)
        self.log.close()
