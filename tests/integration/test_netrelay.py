"""The impaired-link relay (tests/netrelay.py) does what its docstring promises.

Other tests rely on it to stand in for ``tc netem`` between a site agent and the coordinator, so its
delay, loss, outage and closing behaviour are checked here against a plain threaded echo server. Timing
assertions are lower bounds only: the machine is shared, so "at most" would be flaky, while "not before"
is guaranteed by construction.
"""

from __future__ import annotations

import gc
import logging
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from netrelay import ImpairedRelay

pytestmark = pytest.mark.timeout(60)

HOST = "127.0.0.1"


class EchoServer:
    """Echoes every connection until EOF, then closes it; counts the connections that reached it.

    Threads rather than asyncio so that it shares nothing with the relay under test."""

    def __init__(self) -> None:
        self._listener = socket.create_server((HOST, 0))
        self._listener.settimeout(0.05)
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._accepted = 0
        self._open = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept_loop, name="echo-accept", daemon=True)
        self._acceptor.start()

    @property
    def accepted(self) -> int:
        with self._lock:
            return self._accepted

    @property
    def open_connections(self) -> int:
        with self._lock:
            return self._open

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self._accepted += 1
                self._open += 1
            thread = threading.Thread(target=self._echo, args=(conn,), name="echo-conn", daemon=True)
            self._threads.append(thread)
            thread.start()

    def _echo(self, conn: socket.socket) -> None:
        conn.settimeout(0.05)
        try:
            while not self._stop.is_set():
                try:
                    data = conn.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not data:
                    return
                conn.settimeout(5)
                try:
                    conn.sendall(data)
                except OSError:
                    return
                conn.settimeout(0.05)
        finally:
            conn.close()
            with self._lock:
                self._open -= 1

    def close(self) -> None:
        """Stop accepting and close every connection (each client sees EOF)."""
        self._stop.set()
        self._acceptor.join()
        self._listener.close()
        for thread in self._threads:
            thread.join()


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    server = EchoServer()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def no_asyncio_complaints(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Leaked tasks and swallowed task exceptions are only *logged* by asyncio, not warned, so
    filterwarnings=error would miss them: fail on them explicitly (after a collection, which is when
    "Task was destroyed but it is pending" and unclosed-transport warnings fire)."""
    caplog.set_level(logging.WARNING, logger="asyncio")
    yield
    gc.collect()
    complaints = [r.getMessage() for r in caplog.records if r.name.startswith("asyncio")]
    assert not complaints
    assert not [t for t in threading.enumerate() if t.name.startswith("netrelay")]


def connect(relay: ImpairedRelay, timeout: float = 10.0) -> socket.socket:
    return socket.create_connection((HOST, relay.port), timeout=timeout)


def recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        data = sock.recv(n - len(buf))
        if not data:
            raise AssertionError(f"EOF after {len(buf)} of {n} bytes")
        buf += data
    return bytes(buf)


def recv_until_eof(sock: socket.socket) -> bytes:
    buf = bytearray()
    while data := sock.recv(65536):
        buf += data
    return bytes(buf)


def round_trip(sock: socket.socket, payload: bytes) -> float:
    start = time.monotonic()
    sock.sendall(payload)
    assert recv_exact(sock, len(payload)) == payload
    return time.monotonic() - start


def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Liveness, not timing: the deadline is only there so a broken relay fails instead of hanging."""
    deadline = time.monotonic() + 10
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.01)


def sees_close(sock: socket.socket) -> bool:
    """The peer closed: EOF, or a reset (which is also "connection closed" to a client)."""
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def test_delay_is_one_way_so_a_round_trip_costs_twice_it(echo: EchoServer) -> None:
    with ImpairedRelay(HOST, echo.port, delay=0.04) as relay, connect(relay) as sock:
        assert round_trip(sock, b"hello") >= 0.08
        relay.set_impairment(delay=0.1)
        assert round_trip(sock, b"slower") >= 0.2
        # Many chunks in flight at once still arrive in order.
        messages = [f"<{i:03d}>".encode() for i in range(50)]
        for message in messages:
            sock.sendall(message)
        assert recv_exact(sock, sum(map(len, messages))) == b"".join(messages)
        assert relay.stats.bytes_up == relay.stats.bytes_down == 5 + 6 + 250
        assert relay.stats.chunks_lost == 0


def test_loss_delays_but_never_corrupts_or_reorders(echo: EchoServer) -> None:
    rng = random.Random(1)
    messages = [f"{i:04d}|".encode() + rng.randbytes(rng.randrange(1, 300)) + b"\n" for i in range(200)]
    expected = b"".join(messages)
    # A short rto keeps the test fast; the head-of-line blocking and backoff are the same at any scale.
    with ImpairedRelay(HOST, echo.port, delay=0.002, loss=0.3, rto=0.01, seed=20261121) as relay, \
            connect(relay) as sock:
        received = bytearray()

        def read_all() -> None:
            while len(received) < len(expected):
                data = sock.recv(65536)
                if not data:
                    return
                received.extend(data)

        reader = threading.Thread(target=read_all)
        reader.start()
        for message in messages:
            sock.sendall(message)
            time.sleep(0.001)  # separate chunks, so there are many transmissions to lose
        reader.join(30)
        assert bytes(received) == expected
        assert relay.stats.chunks_lost > 0
        assert relay.stats.bytes_up == relay.stats.bytes_down == len(expected)


def test_loss_parameter_is_validated() -> None:
    with pytest.raises(ValueError):
        ImpairedRelay(HOST, 1, loss=1.0)
    with pytest.raises(ValueError):
        ImpairedRelay(HOST, 1, delay=-0.1)


def test_outage_holds_data_until_the_link_returns(echo: EchoServer) -> None:
    with ImpairedRelay(HOST, echo.port) as relay, connect(relay) as sock:
        round_trip(sock, b"before")
        with relay.outage():
            sock.sendall(b"during the outage")
            sock.settimeout(1.0)
            with pytest.raises(TimeoutError):
                sock.recv(100)
        sock.settimeout(10)
        assert recv_exact(sock, 17) == b"during the outage"
        assert relay.stats.held_during_outage >= 1
        round_trip(sock, b"after")


def test_connection_opened_during_outage_does_not_reach_the_server_until_it_ends(echo: EchoServer) -> None:
    with ImpairedRelay(HOST, echo.port) as relay:
        relay.set_outage(True)
        with connect(relay) as sock:  # the relay's listener accepts: it is local
            sock.sendall(b"hello?")
            sock.settimeout(0.5)
            with pytest.raises(TimeoutError):
                sock.recv(100)
            wait_until(lambda: relay.stats.connections_held == 1, "the relay holds the new connection")
            assert relay.stats.connections_accepted == 1
            assert relay.stats.upstream_opened == 0
            assert echo.accepted == 0
            relay.set_outage(False)
            sock.settimeout(10)
            assert recv_exact(sock, 6) == b"hello?"
            assert echo.accepted == 1
            round_trip(sock, b"and it works")


def test_client_that_gives_up_during_outage_never_reaches_the_server(echo: EchoServer) -> None:
    with ImpairedRelay(HOST, echo.port) as relay:
        with relay.outage():
            with connect(relay) as sock:
                # Like a websocket handshake timing out, the client gives up before any answer. It
                # half-closes so that it can see the relay drop the connection (deterministically, before
                # the link returns) instead of the test guessing how long that takes.
                sock.sendall(b"GET / HTTP/1.1\r\n\r\n")
                sock.shutdown(socket.SHUT_WR)
                assert recv_until_eof(sock) == b""
        with connect(relay) as sock:
            round_trip(sock, b"fresh connection")
        assert echo.accepted == 1
        assert relay.stats.upstream_opened == 1
        assert relay.stats.connections_accepted == relay.stats.connections_held + 1 == 2


def test_eof_during_outage_is_held_and_delivered_after_the_data(echo: EchoServer) -> None:
    with ImpairedRelay(HOST, echo.port, delay=0.01) as relay, connect(relay) as sock:
        round_trip(sock, b"x")
        with relay.outage():
            sock.sendall(b"last words")
            sock.shutdown(socket.SHUT_WR)
            time.sleep(0.2)
            assert echo.open_connections == 1  # the server has not seen the FIN
        # The data reaches the server, then the FIN; it echoes and closes, and that FIN comes back.
        assert recv_until_eof(sock) == b"last words"


def test_server_closing_reaches_the_client(echo: EchoServer) -> None:
    with ImpairedRelay(HOST, echo.port) as relay, connect(relay) as sock:
        round_trip(sock, b"ping")
        echo.close()
        assert sees_close(sock)


def test_stop_closes_every_connection_and_leaves_nothing_running(echo: EchoServer) -> None:
    relay = ImpairedRelay(HOST, echo.port).start()
    with connect(relay) as active, connect(relay) as delayed, connect(relay) as held:
        round_trip(active, b"up")
        relay.set_impairment(delay=0.5)
        delayed.sendall(b"still in flight when the relay stops")
        relay.set_outage(True)
        held.sendall(b"held")
        with connect(relay) as pending:  # its upstream connection is not even open yet
            pending.sendall(b"anyone there?")
            relay.stop()
            for sock in (active, delayed, held, pending):
                assert sees_close(sock)
        relay.stop()  # idempotent
    with pytest.raises(ConnectionRefusedError):
        connect(relay).close()
    wait_until(lambda: echo.open_connections == 0, "the server side of every connection is closed too")


def test_relay_can_be_restarted_on_the_same_port(echo: EchoServer) -> None:
    relay = ImpairedRelay(HOST, echo.port)
    port = relay.port
    for _ in range(2):
        with relay, connect(relay) as sock:
            round_trip(sock, b"again")
            assert relay.port == port
    assert relay.stats.upstream_opened == 2
