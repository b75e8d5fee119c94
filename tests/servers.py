"""Real coordinators and site agents in subprocesses, for tests and benchmarks that need the process boundary
(kills, restarts, real site links)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from pg import free_port

__all__ = ["Agent", "Coordinator", "evalroom_cli", "eventually", "write_inventory"]


def eventually(check: Any, what: str, timeout: float = 60) -> Any:
    """Poll ``check`` until it returns something true (and return that), or fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout} s: {what}")
        time.sleep(0.1)
    return value


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
                self.proc.kill()
                self.proc.wait()
                self.log.close()
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


def write_inventory(path: Path, seats: int, *, kind: str = "shared", broken: dict[str, str] | None = None) -> Path:
    """The agent's inventory file: room R1 with seats A-01.. all working, but for ``broken`` (seat code →
    device at fault). The agent reads it again at every heartbeat, so rewriting it is a device changing."""
    def seat(i: int) -> str:
        code = f"A-{i:02d}"
        devices = {d: "ok" for d in ("pc", "network", "microphone", "speaker", "camera")}
        if broken and code in broken:
            devices[broken[code]] = "fault"
        return f'  {{ code = "{code}", ' + ", ".join(f'{d} = "{v}"' for d, v in devices.items()) + " },"
    lines = ['[[rooms]]', 'code = "R1"', 'name = "远程评标室"', f'kind = "{kind}"', "seats = ["]
    lines += [seat(i) for i in range(1, seats + 1)]
    path.write_text("\n".join(lines + ["]"]) + "\n", encoding="utf-8")
    return path


class Agent:
    """A real ``evalroom site-agent`` process for a venue, its key registered through ``api`` (an admin
    client), its inventory in ``rooms.toml`` (``seats`` seats of room R1 of ``kind``)."""

    def __init__(self, root: Path, venue: dict[str, Any], api: httpx.Client, env: dict[str, str], url: str,
                 state_exists: bool = False, seats: int = 4, kind: str = "shared",
                 media: list[dict[str, Any]] | None = None) -> None:
        self.venue = venue
        self.dir = root / venue["code"]
        self.dir.mkdir(parents=True, exist_ok=state_exists)
        key = self.dir / "venue-key.pem"
        if not key.exists():
            out = evalroom_cli("site-key", "--out", str(key), env=env).stdout
            public = next(line.split()[-1] for line in out.splitlines() if line.startswith("public key:"))
            api.post(f"/api/v1/venues/{venue['id']}/credentials",
                     json={"public_key": public, "label": "test"}).raise_for_status()
        self.state = self.dir / "state"
        self.log = (self.dir / "agent.log").open("a")
        extra = []
        if media is not None:
            (self.dir / "media.json").write_text(json.dumps(media), encoding="utf-8")
            extra = ["--media", str(self.dir / "media.json")]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "evalroom", "site-agent", "--venue", venue["code"], "--coordinator", url,
             "--key", str(key), "--inventory", str(write_inventory(self.dir / "rooms.toml", seats, kind=kind)),
             "--state-dir", str(self.state), "--auto-confirm", "--ping-interval", "1", "--ping-timeout", "2",
             "--witness-seconds", "0.5", *extra], env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def inbox(self) -> list[dict[str, Any]]:
        path = self.state / "inbox.jsonl"
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []

    def status(self) -> dict[str, Any]:
        try:
            return json.loads((self.state / "status.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(30)
        self.log.close()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            assert self.proc.wait(30) == 0, "the agent did not stop cleanly on SIGTERM"
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.log.close()
