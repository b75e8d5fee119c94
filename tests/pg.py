"""A private PostgreSQL server for the test run, started from Debian's binaries and stopped at the end.

The server listens on 127.0.0.1 at a free port with its socket in its own directory, so it never meets
another PostgreSQL on the machine. PostgreSQL refuses to run as root, so when the tests run as root (CI does)
the cluster belongs to the ``postgres`` user that Debian's package creates. ``fsync`` is off: the tests kill
coordinators, never this server, so its own crash safety is not under test and the run is faster.

Set ``EVALROOM_TEST_PG_URL`` (a superuser URL) to use an existing server instead.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg

__all__ = ["PgServer", "free_port", "start_pg"]


def _bindir() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name))
    return Path(candidates[-1]) if candidates else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        """A psycopg URL of the superuser's maintenance database."""

    def sqlalchemy_url(self, dbname: str) -> str:
        base = self.admin_url.rsplit("/", 1)[0]
        return base.replace("postgresql://", "postgresql+psycopg://", 1) + f"/{dbname}"

    def create_database(self, template: str | None = None) -> str:
        name = f"t_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return name

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def start_pg() -> Iterator[PgServer]:
    external = os.environ.get("EVALROOM_TEST_PG_URL")
    if external:
        yield PgServer(external)
        return
    bindir = _bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL server binaries not found under /usr/lib/postgresql; the README's test "
                           "command installs them (apt package postgresql)")
    root = Path(tempfile.mkdtemp(prefix="evalroom-pg-"))
    data, log = root / "data", root / "server.log"
    as_user: list[str] = []
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        os.chown(root, pw.pw_uid, pw.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    try:
        subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                        "-E", "UTF8", "--locale=C.UTF-8"], check=True, capture_output=True)
        opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off -c max_connections=200"
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", opts, "-w", "-t", "60",
                        "start"], check=True, capture_output=True)
        try:
            yield PgServer(f"postgresql://postgres@127.0.0.1:{port}/postgres")
        finally:
            subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                           capture_output=True)
    except subprocess.CalledProcessError as exc:
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        raise RuntimeError(f"starting PostgreSQL failed: {exc.stderr.decode(errors='replace')}\n{tail}") from None
    finally:
        shutil.rmtree(root, ignore_errors=True)
