"""A TCP line server on 127.0.0.1 that feeds a simulated instrument, with fault injection.

Framing as the real instruments accept it: a command line ends at LF, CR or CR LF, empty lines
are ignored, each connection gets its own input buffer, replies get the instrument's terminator.
Every received line is recorded with its simulated time, so a test can prove what was (and was
not) sent.
Queries (lines with a ``?``, or every line of an instrument that answers every line) pass a
fault injector first (``cryolab.sim.faults``).
"""

from __future__ import annotations

import collections
import contextlib
import logging
import socket
import threading
import time
from typing import Protocol

import numpy as np

from cryolab.clock import Clock
from cryolab.sim.faults import FaultEvent, FaultInjector, FaultRule, garble

log = logging.getLogger(__name__)


class Device(Protocol):
    """A simulated instrument's command interpreter and the quirks of its connections."""

    banner: tuple[str, ...]  # lines sent on every new connection, ``banner_delay_s`` after it
    banner_delay_s: float
    max_connections: int | None  # further connections are closed at once; None: no limit

    # read-only members, so a device class may set them as class constants
    @property
    def reply_terminator(self) -> str: ...

    @property
    def answers_every_line(self) -> bool:
        """Sets answered too (Mercury iPS): every line is a query to fault."""
        ...

    def handle_line(self, line: str) -> list[str]:
        """Execute one input line; return the reply lines (without terminators)."""
        ...


class LineServer:
    """Serves one simulated instrument on 127.0.0.1; one thread per connection."""

    def __init__(self, name: str, device: Device, clock: Clock, *, port: int = 0,
                 faults: list[FaultRule] | None = None,
                 seed: int = 0, record_limit: int | None = 100_000) -> None:
        self.name = name
        self.device = device
        self.clock = clock
        self.faults = FaultInjector(faults, np.random.default_rng(seed), clock.now())
        #: (simulated time, line) of every line received, oldest first
        self.received: collections.deque[tuple[float, str]] = collections.deque(
            maxlen=record_limit)
        #: every fault injected so far
        self.fault_log: list[FaultEvent] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._conns: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", port))
        self._listener.listen(8)
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]

    @property
    def resource(self) -> str:
        """The VISA resource name a client opens."""
        return f"TCPIP0::127.0.0.1::{self.port}::SOCKET"

    @property
    def connection_count(self) -> int:
        with self._lock:
            return len(self._conns)

    def received_lines(self) -> list[str]:
        return [line for _, line in self.received]

    def start(self) -> LineServer:
        t = threading.Thread(target=self._accept_loop, name=f"sim-{self.name}-accept",
                             daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() at once
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            _close(conn)
        for t in self._threads:
            t.join(timeout=2.0)

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                limit = self.device.max_connections
                full = limit is not None and len(self._conns) >= limit
                if not full:
                    self._conns.add(conn)
            if full:  # e.g. a 372 allows two sockets; a third connect is refused
                _close(conn)
                continue
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            t = threading.Thread(target=self._serve, args=(conn,),
                                 name=f"sim-{self.name}-conn", daemon=True)
            t.start()
            with self._lock:
                self._threads = [th for th in self._threads if th.is_alive()] + [t]

    def _serve(self, conn: socket.socket) -> None:
        terminator = self.device.reply_terminator.encode()
        try:
            banner = self.device.banner
            if banner:
                # sent late on purpose: QCoDeS device-clears right after connecting and would
                # swallow an immediate banner (pyvisa-py's clear drains until 0.1 s of silence)
                if self._stop.wait(self.device.banner_delay_s):
                    return
                conn.sendall(b"".join(b.encode() + terminator for b in banner))
            buffer = b""
            while not self._stop.is_set():
                data = conn.recv(65536)
                if not data:
                    return
                buffer += data
                *lines, buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
                for raw in lines:
                    line = raw.decode("ascii", errors="replace").strip()
                    if line and not self._answer(conn, line, terminator):
                        return
        except OSError:
            return
        finally:
            with self._lock:
                self._conns.discard(conn)
            _close(conn)

    def _answer(self, conn: socket.socket, line: str, terminator: bytes) -> bool:
        """Handle one line; return False when the connection is to be dropped."""
        now = self.clock.now()
        self.received.append((now, line))
        query = self.device.answers_every_line or "?" in line
        fault = self.faults.next_fault(now) if query else None
        if fault == "disconnect":
            self.fault_log.append(FaultEvent(now, fault, line))
            return False
        replies = self.device.handle_line(line)
        if fault is not None:
            self.fault_log.append(FaultEvent(now, fault, line))
            if fault == "timeout":
                return True
            replies = [garble(r) for r in replies]
        if replies:
            conn.sendall(b"".join(r.encode() + terminator for r in replies))
        return True


def _close(conn: socket.socket) -> None:
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        conn.close()


def wait_for_port(port: int, timeout_s: float = 5.0) -> None:
    """Block until something accepts connections on 127.0.0.1:port (for subprocess tests)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)
