"""For the end-to-end tests of the web pages (tests/e2e), imported as fixtures by each test module: a real browser, Debian's Chromium (installed by tests/run.sh) driven by
Playwright, against a real coordinator (uvicorn on loopback) over the test's own context, so that the test can
set the world up through the API and move the injected clock.

Chromium is launched headless with a fake camera and microphone (and no permission prompt), and without the
background networking that this machine's closed network refuses. ``EVALROOM_SCREENSHOTS=DIR`` makes the tests
save the screenshots kept in docs/screenshots (docs/web.md says how to refresh them).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
)

from evalroom.api.app import create_app
from evalroom.api.context import AppContext
from signing.pki import Issued

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]


MOVED_CLOCK = bool(os.environ.get("FAKETIME"))
"""A moved-clock run (tests/run.sh --faketime): libfaketime is preloaded into every process."""


def _without_faketime() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "LD_PRELOAD" and not k.startswith("FAKETIME")}


@contextmanager
def _real_clock_for_children() -> Iterator[None]:
    """Processes started meanwhile run without libfaketime: Chromium and Playwright's driver do not work under
    it (their timed waits on the monotonic clock fail); the pages get the moved time from Playwright's clock."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(_without_faketime())
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


class _Browser:
    """The browser, whose every new context's pages see this process's (possibly moved) time."""

    def __init__(self, chromium: Any) -> None:
        self._chromium = chromium

    def new_context(self, **kwargs: Any) -> Any:
        context = self._chromium.new_context(**kwargs)
        if MOVED_CLOCK:
            context.clock.install(time=datetime.now(UTC))  # Date flows on from the moved time
        return context

    def __getattr__(self, name: str) -> Any:
        return getattr(self._chromium, name)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), "Debian's chromium is missing: run bash tests/run.sh, which installs it"
    with _real_clock_for_children() if MOVED_CLOCK else contextlib.nullcontext():
        pw = sync_playwright().start()
    try:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
                                      **({"env": _without_faketime()} if MOVED_CLOCK else {}))
        yield _Browser(chromium)
        chromium.close()
    finally:
        pw.stop()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    # A console in China: its times are shown in Beijing time whatever this machine's zone is.
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()


@pytest.fixture
def live(ctx: AppContext) -> Iterator[str]:
    """A real coordinator serving the test's context on loopback: its base URL. On a free port, or on the port
    of the settings' public URL when they name one (WebAuthn's relying party is that URL's host, which must be
    a name such as localhost, not an address)."""
    public = ctx.settings.public_url
    server = uvicorn.Server(uvicorn.Config(create_app(ctx.settings, context=ctx), host="127.0.0.1",
                                           port=urlsplit(public).port or 0 if public else 0,
                                           log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the coordinator did not start"
        time.sleep(0.05)
    yield public.rstrip("/") if public else f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    server.should_exit = True
    thread.join(15)


def accessibility_violations(tab: Any) -> list[str]:
    """axe-core's rules on the page as it is now: each violation as "rule: help (number of elements)"."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(tab)
    return [f"{v['id']}: {v['help']} ({len(v['nodes'])})" for v in results.response["violations"]]


def open_seat(browser: Any, live: str, w: Any, member: dict[str, Any]) -> Any:
    """The member's seat page, logged in with a fresh code from their venue's operator: it publishes the seat's
    (fake) camera once the session runs. ``w``: a committee_world.CommitteeWorld."""
    answer = w.client.post(f"/api/v1/committee/members/{member['member_id']}/login-code", headers=w.op(member["venue_id"]))
    assert answer.status_code == 200, answer.text
    seat = browser.new_context(locale="zh-CN", viewport={"width": 800, "height": 600}).new_page()
    seat.goto(f"{live}/expert")
    seat.get_by_label("一次性登录码").fill(answer.json()["login_code"])
    seat.get_by_role("button", name="登录").click()
    return seat


def screenshot(page: Any, name: str, part: Any = None) -> None:
    """Save a screenshot for docs/screenshots when EVALROOM_SCREENSHOTS names a directory: the whole page, or
    only ``part`` (a locator) where the page above it would fill the picture."""
    directory = os.environ.get("EVALROOM_SCREENSHOTS")
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        path = str(Path(directory) / f"{name}.png")
        if part is not None:
            part.screenshot(path=path)
        else:
            page.screenshot(path=path, full_page=True)


SOFTHSM_MODULES = ("/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so")
TOKEN_PIN, TOKEN_SO_PIN = "246810", "13572468"


@contextmanager
def seat_signer(directory: Path, issued: Issued, chain: list[Any], origin: str, port: int) -> Iterator[str]:
    """The seat's local signer (``evalroom seat-signer``, its own process) on ``port``, holding ``issued``'s key
    on a SoftHSM2 token of its own (PIN ``TOKEN_PIN``): the UKey at an expert's seat. Yields its URL."""
    module = next((m for m in SOFTHSM_MODULES if Path(m).exists()), None)
    assert module, "SoftHSM2 is missing: the test command installs the Debian package softhsm2"
    (directory / "tokens").mkdir(parents=True)
    conf = directory / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {directory / 'tokens'}\nobjectstore.backend = file\n", encoding="utf-8")
    env = {**os.environ, "SOFTHSM2_CONF": str(conf)}
    key = directory / "key.pem"
    key.write_bytes(issued.key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    for args in (["--init-token", "--free", "--label", "seat", "--pin", TOKEN_PIN, "--so-pin", TOKEN_SO_PIN],
                 ["--import", str(key), "--token", "seat", "--label", "sign", "--id", "01", "--pin", TOKEN_PIN]):
        subprocess.run(["softhsm2-util", *args], check=True, capture_output=True, env=env)
    key.unlink()  # the key now lives on the token only
    (directory / "cert.pem").write_bytes(issued.certificate.public_bytes(Encoding.PEM))
    (directory / "chain.pem").write_bytes(b"".join(c.public_bytes(Encoding.PEM) for c in chain))
    proc = subprocess.Popen([sys.executable, "-m", "evalroom", "seat-signer", "--origin", origin, "--port", str(port),
                             "--pkcs11-module", module, "--token-label", "seat", "--certificate",
                             str(directory / "cert.pem"), "--chain", str(directory / "chain.pem"), "--state-dir",
                             str(directory)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert f"127.0.0.1:{port}" in line, line + proc.stdout.read()
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(15)
        proc.stdout.close()  # type: ignore[union-attr]
