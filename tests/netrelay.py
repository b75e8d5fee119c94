"""An impaired-link TCP relay for tests: one-way delay, loss (as TCP experiences it) and cable-pull outages.

Why this exists: the site agent talks to the coordinator over a websocket across a wide-area link, and the
behaviour we care about (reconnects, heartbeats timing out, resumed streams, duplicate deliveries after a
link comes back) only shows up when that link is slow, lossy or down. The usual tool, ``tc qdisc ... netem``,
is not available on this machine's kernel, and it would need root anyway. So tests put this relay between
the two processes instead::

    with ImpairedRelay("127.0.0.1", coordinator_port, delay=0.05, loss=0.02, seed=7) as relay:
        agent = start_agent(url=f"ws://127.0.0.1:{relay.port}/...")
        with relay.outage():
            ...  # the agent's pings go unanswered; its reconnect attempts hang

The relay runs its own asyncio loop in a daemon thread, so it works the same whether the two ends are
subprocesses, threads, or a loop in the test itself. Everything it does happens on that loop; the public
methods are safe to call from any other thread and take effect before they return.

Behaviour, and why it is modelled this way
------------------------------------------

*Connections.* Each accepted client connection opens one upstream connection to the target; bytes are
forwarded both ways. If the target refuses, the client's connection is closed (it sees EOF, as close as a
user-space relay can get to a refused SYN once it has already accepted).

*Delay.* Every chunk read from one side is delivered to the other ``delay`` seconds after it was read: a
one-way delay, so a request/response round trip costs at least ``2 * delay``. Each direction has a queue and
its own writer task, so many chunks are in flight at once (as on a real long link) and throughput is not
capped at one chunk per ``delay``. Order is preserved per direction. A change made with
:meth:`ImpairedRelay.set_impairment` applies to chunks read afterwards; a chunk never overtakes an older
one, even if the delay shrinks.

*Loss.* A TCP relay cannot drop bytes without corrupting the stream, and the endpoints would never see loss
anyway: their kernels retransmit. What an application does see is the *effect* of loss on TCP, so that is
what is modelled. When a chunk reaches the head of its direction's queue and is due, it is "transmitted";
with probability ``loss`` (drawn from ``random.Random``, seeded from ``seed``) that transmission is lost and
the chunk is retransmitted one retransmission timeout later. The timeout starts at ``rto`` and doubles with
every consecutive loss in that direction (TCP's exponential backoff, capped at 60 s), and goes back to
``rto`` after a successful delivery. Everything behind a lost chunk in that direction waits for it
(head-of-line blocking) -- which is exactly why a little loss hurts a websocket so much more than its
bandwidth share suggests. Every lost transmission is counted in ``stats.chunks_lost``. Loss applies to data
only, not to EOFs. With a fixed seed each direction of the n-th connection sees a fixed sequence of
lost/delivered transmissions; which bytes make up a chunk still depends on timing, so runs are reproducible
in distribution, not byte for byte.

*Outage* (:meth:`ImpairedRelay.set_outage`, :meth:`ImpairedRelay.outage`) is a cable pull, not a reset:
nothing is forwarded in either direction and nobody is told. Bytes and EOFs that arrive keep being read
and are held, in order. New client connections are still accepted by the listener (the relay's own socket
is local), but their upstream connection is *not* opened until the outage ends, so a client's websocket
opening handshake hangs and times out -- just like a SYN that gets no answer. When the outage ends, held
data and EOFs are delivered in order (as TCP retransmission would do once the path is back), so a client
that wrote and then closed during the outage has its bytes and its FIN reach the server afterwards: that is
what real TCP does for an outage shorter than its retransmission give-up, and it is how duplicate deliveries
after a reconnect happen in production. Held data is dropped only where it can no longer be delivered:
the receiving side is gone, or the relay is stopped. A client that gives up on a connection that is still
waiting for its upstream (it closes before the outage ends) never reaches the server at all -- the same as
a socket closed while still in SYN_SENT.

*Closing.* An EOF or a reset read from one side is forwarded, after all data read before it has been
delivered (and respecting delay and outage), as a FIN to the other side (``write_eof``). That is exactly
what the other end would see if the first one closed its socket directly; forwarding a half-close rather
than tearing down both sockets keeps protocols that half-close correct (the websockets server half-closes
at the end of its closing handshake and waits for the client to close). Once both directions have ended,
or one side can no longer be written to, the relay closes both sockets. Writes to a side that is gone
stop that direction and discard what was left for it. The relay reads at most 1 MiB ahead per direction,
so a side that does not read eventually pushes back on the sender, as TCP flow control would.

*Stopping.* :meth:`ImpairedRelay.stop` closes every connection and the listener, cancels and awaits every
task, and joins the thread; it is idempotent. Both sides of every connection see it closed -- EOF, or a
reset where they had sent bytes the relay never read, which is what the kernel does on close -- and held or
delayed data is dropped. Afterwards the relay can be started again on the same port (``port`` is picked
free when the relay is constructed, so a client can be configured with it before ``start()``; like any
pick-then-bind, another process could in principle take it in between). ``stats`` keep counting.

Counters in :class:`RelayStats` are updated on the relay's thread and are plain ints, safe to read from the
test's thread at any time (each read is atomic; read them again rather than expecting a consistent
snapshot of several).
"""

from __future__ import annotations

import asyncio
import random
import socket
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from types import TracebackType

__all__ = ["ImpairedRelay", "RelayStats"]

_READ_SIZE = 64 * 1024
# Read-ahead per direction: enough for any test's burst, small enough that a side that stops reading
# pushes back on its peer instead of the relay buffering without limit.
_HIGH_WATER = 1 << 20
# TCP caps its retransmission timeout too (Linux: 120 s); a test with high loss should not wait for hours.
_MAX_RTO = 60.0
# How long a closing socket may take to flush before it is aborted (a peer that never reads must not hang
# the relay or stop()).
_CLOSE_GRACE = 1.0


@dataclass
class RelayStats:
    """What the relay did, for tests to assert on (counts since construction, across restarts)."""

    connections_accepted: int = 0
    """Client connections the listener accepted (including ones held by an outage)."""
    connections_held: int = 0
    """Of those, how many had to wait for an outage to end before their upstream connection was opened."""
    upstream_opened: int = 0
    """Upstream connections opened to the target: the connections that actually reached the server."""
    bytes_up: int = 0
    """Bytes delivered client -> server."""
    bytes_down: int = 0
    """Bytes delivered server -> client."""
    chunks: int = 0
    """Data chunks delivered, both directions."""
    chunks_lost: int = 0
    """Lost transmissions (each cost a retransmission timeout), both directions."""
    held_during_outage: int = 0
    """Data chunks that were due while the link was down and had to wait for the outage to end."""


def _check_impairment(delay: float | None, loss: float | None) -> None:
    if delay is not None and not delay >= 0:
        raise ValueError(f"delay must be >= 0 seconds, got {delay!r}")
    if loss is not None and not 0 <= loss < 1:
        raise ValueError(f"loss must be a probability in [0, 1), got {loss!r}")


def _free_port(host: str) -> int:
    family = socket.getaddrinfo(host, 0, type=socket.SOCK_STREAM)[0][0]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


@dataclass(eq=False)
class _Item:
    """A chunk read from one side (``data``), or that side's EOF (``data is None``)."""

    data: bytes | None
    due: float
    """Loop time at which it may be delivered (read time + delay, pushed back by lost transmissions)."""
    held: bool = False


class _Pipe:
    """One direction of one connection: the ordered queue between its reader and its writer task."""

    def __init__(self, rng: random.Random, rto: float) -> None:
        self.items: deque[_Item] = deque()
        self.queued = 0
        self.rng = rng
        self.rto = rto
        self.closed = False
        self._ready = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()

    def push(self, item: _Item) -> None:
        if self.closed:
            return
        self.items.append(item)
        if item.data is not None:
            self.queued += len(item.data)
            if self.queued >= _HIGH_WATER:
                self._room.clear()
        self._ready.set()

    def pop(self) -> None:
        item = self.items.popleft()
        if item.data is not None:
            self.queued -= len(item.data)
        if self.queued < _HIGH_WATER:
            self._room.set()

    async def head(self) -> _Item:
        while not self.items:
            self._ready.clear()
            await self._ready.wait()
        return self.items[0]

    async def wait_room(self) -> None:
        await self._room.wait()

    def close(self) -> None:
        """The destination is gone (or the writer finished): drop what is left and stop the reader waiting."""
        self.closed = True
        self.items.clear()
        self.queued = 0
        self._room.set()


class ImpairedRelay:
    """A TCP relay from ``listen_host:port`` to ``target_host:target_port`` over an impaired link.

    See the module docstring for what delay, loss and outage do and why. ``port`` is picked when the relay
    is constructed (so it can go into a client's configuration first) and bound by :meth:`start`.
    """

    def __init__(self, target_host: str, target_port: int, *, delay: float = 0.0, loss: float = 0.0,
                 rto: float = 0.2, seed: int | None = None, listen_host: str = "127.0.0.1") -> None:
        _check_impairment(delay, loss)
        if not rto > 0:
            raise ValueError(f"rto must be > 0 seconds, got {rto!r}")
        self.target_host = target_host
        self.target_port = target_port
        self.listen_host = listen_host
        self.port: int = _free_port(listen_host)
        self.stats = RelayStats()
        self._delay = float(delay)
        self._loss = float(loss)
        self._rto = float(rto)
        self._rng = random.Random(seed)
        self._outage = False
        # Serialises start/stop against calls that hand work to the loop, so those never wait on a loop
        # that is going away.
        self._lifecycle = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        # Loop-thread state, created on the loop by _listen.
        self._server: asyncio.Server | None = None
        self._link_up: asyncio.Event | None = None
        self._stopping = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    # -- lifecycle ------------------------------------------------------------------------------------

    def start(self) -> ImpairedRelay:
        """Bind ``port`` and start relaying on a daemon thread; returns once the listener is up."""
        with self._lifecycle:
            if self._thread is not None:
                raise RuntimeError("relay already started")
            loop = asyncio.new_event_loop()
            started = threading.Event()
            failure: list[BaseException] = []
            thread = threading.Thread(target=self._run, args=(loop, started, failure),
                                      name=f"netrelay:{self.port}", daemon=True)
            thread.start()
            started.wait()
            if failure:
                thread.join()
                raise failure[0]
            self._loop, self._thread = loop, thread
        return self

    def stop(self) -> None:
        """Close every connection and the listener, cancel every task and join the thread. Idempotent."""
        with self._lifecycle:
            loop, thread = self._loop, self._thread
            if loop is None or thread is None:
                return
            if threading.current_thread() is thread:
                raise RuntimeError("stop() called from the relay's own thread")
            try:
                if thread.is_alive():
                    asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=30)
            finally:
                with suppress(RuntimeError):  # the loop already closed: the thread is ending by itself
                    loop.call_soon_threadsafe(loop.stop)
                thread.join()
                self._loop = self._thread = None

    def __enter__(self) -> ImpairedRelay:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- impairments (any thread) -----------------------------------------------------------------------

    def set_outage(self, on: bool) -> None:
        """Pull (``True``) or reconnect (``False``) the cable. Takes effect before this returns."""
        self._in_loop(lambda: self._apply_outage(bool(on)))

    @contextmanager
    def outage(self) -> Iterator[None]:
        """The link is down inside the ``with`` block and back up after it, even if the block raises."""
        self.set_outage(True)
        try:
            yield
        finally:
            self.set_outage(False)

    def set_impairment(self, *, delay: float | None = None, loss: float | None = None) -> None:
        """Change the one-way delay and/or loss probability; ``None`` leaves a setting as it is."""
        _check_impairment(delay, loss)

        def apply() -> None:
            if delay is not None:
                self._delay = float(delay)
            if loss is not None:
                self._loss = float(loss)

        self._in_loop(apply)

    def _in_loop(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the relay's loop and wait for it (directly when the relay is not running)."""
        if threading.current_thread() is self._thread:
            fn()  # already on the loop (and stop() may be holding the lock, waiting for this very loop)
            return
        with self._lifecycle:
            loop, thread = self._loop, self._thread
            if loop is None or thread is None or not thread.is_alive():
                fn()
                return
            done = threading.Event()
            error: list[BaseException] = []

            def run() -> None:
                try:
                    fn()
                except BaseException as exc:  # handed back to the caller's thread
                    error.append(exc)
                finally:
                    done.set()

            loop.call_soon_threadsafe(run)
            done.wait()
            if error:
                raise error[0]

    def _apply_outage(self, on: bool) -> None:
        self._outage = on
        if self._link_up is not None:
            if on:
                self._link_up.clear()
            else:
                self._link_up.set()

    # -- the loop thread -------------------------------------------------------------------------------

    def _run(self, loop: asyncio.AbstractEventLoop, started: threading.Event, failure: list[BaseException]) -> None:
        asyncio.set_event_loop(loop)
        try:
            try:
                loop.run_until_complete(self._listen())
            except BaseException as exc:  # reported to start() in the caller's thread
                failure.append(exc)
                return
            finally:
                started.set()
            loop.run_forever()
        finally:
            try:
                loop.run_until_complete(self._cancel_leftovers())
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
            finally:
                self._server = self._link_up = None
                asyncio.set_event_loop(None)
                loop.close()

    async def _listen(self) -> None:
        self._stopping = False
        self._link_up = asyncio.Event()
        if not self._outage:
            self._link_up.set()
        self._server = await asyncio.start_server(self._accepted, self.listen_host, self.port)

    async def _shutdown(self) -> None:
        self._stopping = True
        if self._server is not None:
            # Stop accepting first, and only close the listener once connections already accepted have
            # reached _accepted (two loop iterations; it closes them now that _stopping is set). Closing
            # it straight away would make asyncio (3.11) fail to wrap a socket accepted in the previous
            # iteration ("assert self._sockets is not None" in Server._attach) and leak it: the client
            # would see neither EOF nor reset, and the socket would be a ResourceWarning at collection.
            loop = asyncio.get_running_loop()
            for listener in self._server.sockets:
                loop.remove_reader(listener.fileno())
            for _ in range(5):
                await asyncio.sleep(0)
            self._server.close()
            await self._server.wait_closed()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # Writers whose _serve never ran (cancelled before its first step) or was cancelled mid-close.
        await self._close_writers(list(self._writers))

    async def _cancel_leftovers(self) -> None:
        """Safety net for the thread's exit: nothing may outlive the loop (pending tasks, open sockets)."""
        current = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        await asyncio.sleep(0)

    async def _close_writers(self, writers: list[asyncio.StreamWriter]) -> None:
        """Close sockets, letting each flush for up to _CLOSE_GRACE, then abort the ones still flushing."""
        if not writers:
            return
        for writer in writers:
            if not writer.transport.is_closing():
                writer.close()

        async def closed(writer: asyncio.StreamWriter) -> None:
            with suppress(Exception):
                await writer.wait_closed()

        waits = {asyncio.ensure_future(closed(w)): w for w in writers}
        try:
            _, slow = await asyncio.wait(waits, timeout=_CLOSE_GRACE)
            for wait in slow:
                waits[wait].transport.abort()
                wait.cancel()
        finally:
            await asyncio.gather(*waits, return_exceptions=True)
            for writer in writers:
                self._writers.discard(writer)
            await asyncio.sleep(0)  # lets aborted transports release their sockets

    def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """The listener's callback. Synchronous on purpose: the writer is registered before any task
        exists, so stop() can close it even if the task serving it is cancelled before it ever runs."""
        self.stats.connections_accepted += 1
        self._writers.add(writer)
        if self._stopping:
            writer.close()
            return
        task = asyncio.get_running_loop().create_task(self._serve(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        assert self._link_up is not None
        loop = asyncio.get_running_loop()
        up = _Pipe(random.Random(self._rng.getrandbits(64)), self._rto)
        down = _Pipe(random.Random(self._rng.getrandbits(64)), self._rto)
        server_writer: asyncio.StreamWriter | None = None
        tasks: list[asyncio.Task[None]] = []
        try:
            # Read (and hold) what the client sends even before the upstream connection exists.
            client_in = loop.create_task(self._pump_in(client_reader, up))
            tasks.append(client_in)
            held = False
            while not self._link_up.is_set():
                if not held:
                    held = True
                    self.stats.connections_held += 1
                link = loop.create_task(self._link_up.wait())
                try:
                    await asyncio.wait((link, client_in), return_when=asyncio.FIRST_COMPLETED)
                finally:
                    link.cancel()
                    await asyncio.gather(link, return_exceptions=True)
                if client_in.done():
                    return  # gave up while its "SYN" went unanswered: it never reaches the server
            try:
                server_reader, server_writer = await asyncio.open_connection(self.target_host, self.target_port)
            except OSError:
                return  # refused or unreachable: the client sees its connection closed
            self._writers.add(server_writer)
            self.stats.upstream_opened += 1
            tasks.append(loop.create_task(self._pump_in(server_reader, down)))
            outs = [loop.create_task(self._pump_out(up, server_writer, upstream=True)),
                    loop.create_task(self._pump_out(down, client_writer, upstream=False))]
            tasks.extend(outs)
            await asyncio.gather(*outs)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._close_writers([w for w in (client_writer, server_writer) if w is not None])

    async def _pump_in(self, reader: asyncio.StreamReader, pipe: _Pipe) -> None:
        """Read one side into its pipe, stamping each chunk with when it may be delivered; then its EOF."""
        loop = asyncio.get_running_loop()
        try:
            while not pipe.closed:
                await pipe.wait_room()
                data = await reader.read(_READ_SIZE)
                if not data:
                    break
                pipe.push(_Item(data, loop.time() + self._delay))
        except OSError:
            pass  # a reset ends this side like an EOF: what was read before it is still delivered
        pipe.push(_Item(None, loop.time() + self._delay))

    async def _pump_out(self, pipe: _Pipe, writer: asyncio.StreamWriter, *, upstream: bool) -> None:
        """Deliver one pipe to its destination in order; forward its EOF as a FIN. Ends when the source
        has ended and everything was delivered, or when the destination can no longer be written to."""
        try:
            while True:
                item = await pipe.head()
                await self._transmit(pipe, item)
                if writer.transport.is_closing():
                    return
                if item.data is None:
                    if writer.can_write_eof():
                        writer.write_eof()
                    return
                # Count first: once written, the peer (another thread) may see the bytes before this
                # thread runs again, and a test that then reads the stats must find them counted.
                self.stats.chunks += 1
                if upstream:
                    self.stats.bytes_up += len(item.data)
                else:
                    self.stats.bytes_down += len(item.data)
                pipe.pop()
                writer.write(item.data)
                await writer.drain()
        except OSError:
            return  # the destination reset or vanished
        finally:
            pipe.close()

    async def _transmit(self, pipe: _Pipe, item: _Item) -> None:
        """Wait until ``item`` gets through: its delay, the outage (if any), and lost transmissions."""
        assert self._link_up is not None
        loop = asyncio.get_running_loop()
        while True:
            wait = item.due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            if not self._link_up.is_set():
                if not item.held and item.data is not None:
                    item.held = True
                    self.stats.held_during_outage += 1
                await self._link_up.wait()
                continue
            if item.data is not None and self._loss and pipe.rng.random() < self._loss:
                self.stats.chunks_lost += 1
                item.due = loop.time() + pipe.rto
                pipe.rto = min(pipe.rto * 2, _MAX_RTO)
                continue
            if item.data is not None:
                pipe.rto = self._rto
            return
