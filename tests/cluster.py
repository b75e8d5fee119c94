"""Coordinators as a benchmark or a test needs them, started and stopped as context managers.

    with cluster(database="sqlite") as c:                       # one `evalroom serve` on the embedded default
        ...c.url, c.admin_username, c.admin_password, c.pids()
    with start_pg() as pg, cluster(database="postgres", coordinators=3, pg=pg) as c:
        ...                                                     # 3 coordinators on one PostgreSQL database,
                                                                # HAProxy round-robin in front (c.url)

Pieces, usable on their own: :class:`CoordinatorProcess` (one ``evalroom serve``), :func:`haproxy` (HAProxy in
front of coordinators), :func:`run_cli` (an ``evalroom`` command), :func:`provision_shared_keys` and
:func:`create_admin`.

The coordinators run with a Python of the caller's choice (``python=``, default ``sys.executable``), so a
benchmark can measure another checkout's code (a worktree with its own virtualenv) from this one's client.
They run with ``python -P`` in a working directory of their own, with no ``PYTHONPATH`` and no inherited
``EVALROOM_*`` variable: started from the top of a checkout, ``python -m evalroom`` would otherwise import
that checkout's package instead of the one installed for ``python``. :func:`which_evalroom` says which one
a Python imports.

With a shared (PostgreSQL) database, the coordinators share one key directory provisioned beforehand
(``evalroom keys rotate``, ``keys sealing``, ``keys log``: docs/configuration.md "Key provisioning"), as in
production; on SQLite the coordinator makes its own keys in its data directory.

Every process started here is stopped when its context exits, also on an exception or Ctrl+C (SIGTERM, then
SIGKILL after a grace period). On Linux the children are also asked to be killed should this process die
without cleaning up (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from pg import PgServer, free_port, start_pg

__all__ = ["Cluster", "CoordinatorProcess", "HAProxy", "clean_env", "cluster", "create_admin", "die_with_parent",
           "haproxy", "process_cpu_seconds", "provision_shared_keys", "run_cli", "stop_process", "which_evalroom"]

ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "cluster admin password"
READY_PATH = "/api/v1/ready"


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without ``EVALROOM_*`` settings, plus ``extra``. Of ``PYTHONPATH`` only the
    moved-clock shim is kept (``tests/run.sh --faketime`` puts tests/faketime there, whose sitecustomize the
    coordinators need as much as the tests do); a checkout on it would shadow the package ``python`` has."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVALROOM_") and k != "PYTHONPATH"}
    shims = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and Path(p).name == "faketime"]
    if shims:
        env["PYTHONPATH"] = os.pathsep.join(shims)
    env.update(extra or {})
    return env


_prctl: Any = None
with contextlib.suppress(OSError, AttributeError):
    _prctl = ctypes.CDLL("libc.so.6", use_errno=True).prctl  # looked up here, not in the forked child


def die_with_parent() -> None:
    """preexec_fn: SIGTERM the child when this process dies (Linux; PR_SET_PDEATHSIG), and a process group
    of its own, so that Ctrl+C reaches the harness only, which then stops its children in order."""
    if _prctl is not None:
        _prctl(1, signal.SIGTERM)
    os.setpgrp()


def run_cli(python: str, *args: str, env: dict[str, str], cwd: Path, stdin: str | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``python -P -m evalroom ARGS`` in ``cwd``; raises with the command's output when it fails."""
    proc = subprocess.run([python, "-P", "-m", "evalroom", *args], env=env, cwd=cwd, input=stdin, text=True,
                          capture_output=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"evalroom {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def which_evalroom(python: str, cwd: Path | None = None) -> str:
    """The file of the ``evalroom`` package ``python`` imports, run as the coordinators are."""
    return subprocess.run([python, "-P", "-c", "import evalroom; print(evalroom.__file__)"], env=clean_env(),
                          cwd=cwd or tempfile.gettempdir(), text=True, capture_output=True, check=True,
                          timeout=60).stdout.strip()


def process_cpu_seconds(pid: int, *, with_children: bool = True) -> float:
    """utime + stime of ``pid`` from /proc/<pid>/stat (and of its live descendants), in seconds."""
    tick = os.sysconf("SC_CLK_TCK")

    def stat(p: int) -> list[str] | None:
        try:
            text = Path(f"/proc/{p}/stat").read_text()
        except OSError:
            return None
        return text[text.rindex(")") + 2:].split()  # fields from the 3rd (state) on; comm may hold spaces

    fields = stat(pid)
    if fields is None:
        return float("nan")
    total = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    if with_children:
        children: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit() and (f := stat(int(entry))) is not None:
                children.setdefault(int(f[1]), []).append(int(entry))
        todo = list(children.get(pid, []))
        while todo:
            child = todo.pop()
            if (f := stat(child)) is not None:
                total += int(f[11]) + int(f[12])
            todo.extend(children.get(child, []))
    return total / tick


def stop_process(proc: subprocess.Popen[bytes], grace: float = 20) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait()


class CoordinatorProcess:
    """One ``evalroom serve`` on loopback at a free port, ready when the constructor returns.

    Like tests/servers.py's ``Coordinator``, but with a chosen Python, its own working directory and ``-P``
    (see the module's docstring)."""

    def __init__(self, data: Path, env: dict[str, str], *, python: str = sys.executable,
                 log_level: str = "warning", ready_timeout: float = 90) -> None:
        self.data = data
        self.python = python
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        data.mkdir(parents=True, exist_ok=True)
        self.log_path = data / f"serve-{self.port}.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen([python, "-P", "-m", "evalroom", "serve", "--data", str(data),
                                      "--port", str(self.port), "--log-level", log_level],
                                     env=env, cwd=data, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL,
                                     preexec_fn=die_with_parent)  # noqa: PLW1509 — only a preloaded C call
        try:
            self._wait_ready(ready_timeout)
        except BaseException:
            self.stop()
            raise

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2) as http:  # one client: each new one loads the CA bundle (0.1 s of CPU)
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if http.get(self.base + READY_PATH).status_code == 200:
                        return
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"coordinator on port {self.port} did not become ready:\n{self.log_text()}")
                time.sleep(0.1)

    def log_text(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        stop_process(self.proc)
        self._log.close()

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self._log.close()


@dataclass
class HAProxy:
    url: str
    proc: subprocess.Popen[bytes]
    config: Path
    log_path: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _log_lines(self) -> list[str]:
        try:
            return self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return []

    def down_events(self) -> int:
        """How many times so far HAProxy marked a coordinator DOWN (its health check failed)."""
        return sum(" is DOWN" in line for line in self._log_lines())

    def abnormal_requests(self) -> list[str]:
        """The requests logged so far as ending abnormally (``option dontlog-normal``), one line each."""
        return [line for line in self._log_lines() if '"' in line and not line.startswith("[")]


def haproxy_config(port: int, backends: Sequence[str], *, tunnel_timeout: str = "1h",
                   check_timeout: str = "30s") -> str:
    """HTTP mode, round-robin over ``backends`` (``host:port``) request by request, health check
    ``GET /api/v1/ready`` every 2 s; a websocket, once upgraded, is a tunnel that may stay idle for
    ``tunnel_timeout``. Requests that end abnormally (errors, 5xx, aborts) are logged to stdout, one line each
    (HAProxy's ``httplog`` format with its termination state); normal ones are not.

    ``check_timeout`` is generous on purpose: a coordinator that answers slowly under a benchmark's load is
    busy, not dead, and with HAProxy's default (the check interval) every coordinator is marked DOWN under
    load and every request gets 503 from the proxy.

    ``option http-server-close``: the connection to the coordinator is closed after each response (the
    client's stays open). Otherwise HAProxy keeps idle connections to the coordinators and reuses them while
    uvicorn closes a keep-alive connection after 5 s idle; a request sent on one just then gets no answer and
    the client's connection is closed without one (the likely cause of one PATCH lost that way under load)."""
    servers = "\n".join(f"    server c{i} {b} check" for i, b in enumerate(backends, 1))
    return f"""# generated by tests/cluster.py
global
    maxconn 8000
    log stdout format raw local0

defaults
    mode http
    log global
    option httplog
    option dontlog-normal
    option http-server-close
    timeout connect 5s
    timeout client 120s
    timeout server 120s
    timeout http-request 30s
    timeout http-keep-alive 120s
    timeout tunnel {tunnel_timeout}
    timeout client-fin 5s
    timeout check {check_timeout}
    default-server inter 2s fall 3 rise 2
    maxconn 8000

frontend coordinators_in
    bind 127.0.0.1:{port}
    default_backend coordinators

backend coordinators
    balance roundrobin
    option httpchk
    http-check send meth GET uri {READY_PATH}
    http-check expect status 200
{servers}
"""


@contextlib.contextmanager
def haproxy(backends: Sequence[str], root: Path, *, binary: str | None = None,
            ready_timeout: float = 30) -> Iterator[HAProxy]:
    """Debian's HAProxy (``apt-get install haproxy``) in the foreground, in front of ``backends``
    (``host:port`` each), on a free loopback port; its configuration in ``root/haproxy.cfg``."""
    exe = binary or shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None)
    if exe is None:
        raise RuntimeError("haproxy not found: apt-get install -y haproxy (tests/run.sh installs it)")
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = root / "haproxy.cfg"
    config.write_text(haproxy_config(port, backends), encoding="utf-8")
    check = subprocess.run([exe, "-c", "-q", "-f", str(config)], capture_output=True, text=True, check=False)
    if check.returncode != 0:
        raise RuntimeError(f"haproxy refused {config}:\n{check.stdout}{check.stderr}")
    log = (root / "haproxy.log").open("wb")
    proc = subprocess.Popen([exe, "-db", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL,
                            preexec_fn=die_with_parent)  # noqa: PLW1509 — only a preloaded C call
    try:
        proxy = HAProxy(f"http://127.0.0.1:{port}", proc, config, root / "haproxy.log")
        deadline = time.monotonic() + ready_timeout
        ok = 0
        with httpx.Client(timeout=2) as http:
            while ok < 2 * len(backends):  # every backend answered through the proxy (round-robin), twice over
                try:
                    ok = ok + 1 if http.get(proxy.url + READY_PATH).status_code == 200 else 0
                except httpx.TransportError:
                    ok = 0
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    raise RuntimeError("haproxy did not come up:\n"
                                       + (root / "haproxy.log").read_text(errors="replace"))
                if ok == 0:
                    time.sleep(0.1)
        yield proxy
    finally:
        stop_process(proc, grace=10)
        log.close()


def provision_shared_keys(python: str, key_dir: Path, env: dict[str, str], cwd: Path) -> None:
    """Token-signing, sealing and transparency-log keys for coordinators sharing a database."""
    for what in ("rotate", "sealing", "log"):
        run_cli(python, "keys", what, "--key-dir", str(key_dir), env=env, cwd=cwd)


def create_admin(python: str, data: Path, env: dict[str, str], *, username: str = ADMIN_USERNAME,
                 password: str = ADMIN_PASSWORD) -> None:
    """The first coordinator-admin account (``evalroom account create``, password on stdin)."""
    run_cli(python, "account", "create", "--data", str(data), "--username", username, "--role",
            "coordinator-admin", env=env, cwd=data, stdin=password + "\n")


@dataclass
class Cluster:
    """What a client needs: the URL to talk to (HAProxy's when there is one), the admin's login, the
    processes (for their CPU)."""

    url: str
    database: str
    coordinators: list[CoordinatorProcess]
    proxy: HAProxy | None = None
    admin_username: str = ADMIN_USERNAME
    admin_password: str = ADMIN_PASSWORD
    root: Path = field(default_factory=Path)
    evalroom_package: str = ""
    libpq_url: str | None = None
    """The shared PostgreSQL database, as psycopg takes it (None on SQLite): for checks below the API."""

    def pids(self) -> list[int]:
        return [c.pid for c in self.coordinators]


def _stop_all(procs: list[CoordinatorProcess]) -> None:
    for p in reversed(procs):
        with contextlib.suppress(Exception):
            p.stop()


@contextlib.contextmanager
def cluster(*, database: str = "sqlite", coordinators: int = 1, python: str = sys.executable,
            proxy: bool | None = None, pg: PgServer | None = None, env: dict[str, str] | None = None,
            keep: bool = False) -> Iterator[Cluster]:
    """``coordinators`` × ``evalroom serve`` on a fresh database, the first admin created.

    ``database``: ``sqlite`` (the embedded default in a temporary data directory; one coordinator only) or
    ``postgres`` (a new database on ``pg``, or on a private server started here, shared by all coordinators,
    with shared keys). ``proxy`` (default: when there is more than one coordinator) puts HAProxy in front.
    ``env``: extra ``EVALROOM_*`` settings for every coordinator. ``keep``: leave the temporary directory
    (logs, configuration) in place."""
    if database not in ("sqlite", "postgres"):
        raise ValueError(f"database must be sqlite or postgres, not {database!r}")
    if coordinators < 1 or (database == "sqlite" and coordinators > 1):
        raise ValueError("several coordinators need a shared database: database='postgres'")
    root = Path(tempfile.mkdtemp(prefix="evalroom-cluster-"))
    procs: list[CoordinatorProcess] = []
    try:
        with contextlib.ExitStack() as stack:
            base_env = clean_env(env)
            libpq_url = None
            if database == "postgres":
                server = pg or stack.enter_context(start_pg())
                db_name = server.create_database()
                base_env["EVALROOM_DATABASE_URL"] = server.sqlalchemy_url(db_name)
                libpq_url = server.admin_url.rsplit("/", 1)[0] + f"/{db_name}"
                key_dir = root / "keys"
                provision_shared_keys(python, key_dir, base_env, root)
                base_env["EVALROOM_KEY_DIR"] = str(key_dir)
                if pg is not None:  # a server of the caller's: drop the database after the processes are gone
                    stack.callback(server.drop_database, db_name)
            data_dirs = [root / f"coordinator-{i}" for i in range(1, coordinators + 1)]
            for d in data_dirs:
                d.mkdir()
            create_admin(python, data_dirs[0], base_env)
            stack.callback(_stop_all, procs)
            for d in data_dirs:
                procs.append(CoordinatorProcess(d, base_env, python=python))
            front: HAProxy | None = None
            if proxy if proxy is not None else coordinators > 1:
                front = stack.enter_context(haproxy([f"127.0.0.1:{p.port}" for p in procs], root / "haproxy"))
            yield Cluster(url=front.url if front else procs[0].base, database=database, coordinators=procs,
                          proxy=front, root=root, evalroom_package=which_evalroom(python, root),
                          libpq_url=libpq_url)
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
