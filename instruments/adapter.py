"""The VISA adapter cryolab's drivers talk through: it knows when a write is still unconfirmed.

Set commands get no reply, so a client cannot tell when an instrument has acted on one. On
hardware that is harmless (real time passes), but under the virtual clock the next wait may jump
simulated hours before the simulated instrument has read the command. Any reply proves that
everything sent before it on the same connection was processed, so :meth:`confirm` asks the
IEEE-488.2 ``*OPC?`` only when the last exchange was a write. Sockets also get TCP_NODELAY:
without it a second small write waits for the first one's ACK (up to 40 ms on Linux).
"""

from __future__ import annotations

import logging
import socket
from typing import Any

from pymeasure.adapters import VISAAdapter

log = logging.getLogger(__name__)


class ConfirmingAdapter(VISAAdapter):
    """VISAAdapter that tracks whether its last write has been answered."""

    connection: Any  # the pyvisa resource VISAAdapter opens (pymeasure is untyped)

    def __init__(self, resource_name: str, **kwargs) -> None:
        super().__init__(resource_name, **kwargs)
        self._open_kwargs = {k: v for k, v in kwargs.items() if k != "visa_library"}
        self.unconfirmed = False
        self._disable_nagle()

    def reopen(self) -> None:
        """Close and open the session again: drops a half-read reply, a stale late answer or
        a dead socket (what recovering from any communication fault needs)."""
        try:
            old, visalib = self.connection.session, self.connection.visalib
        except Exception:
            old, visalib = None, None
        try:
            self.connection.close()
        except Exception:  # the old session may already be broken; it is discarded anyway
            log.debug("closing %s before reopening failed", self.resource_name)
        _forget_session(visalib, old)
        self.connection = self.manager.open_resource(self.resource_name, **self._open_kwargs)
        self.unconfirmed = False
        self._disable_nagle()

    def close(self) -> None:
        try:
            old, visalib = self.connection.session, self.connection.visalib
        except Exception:  # closed already (pymeasure closes again when collected)
            return
        super().close()
        _forget_session(visalib, old)

    def _disable_nagle(self) -> None:
        # pyvisa-py's VI_ATTR_TCPIP_NODELAY setter does not reach the socket; set it directly
        try:
            session = self.connection.visalib.sessions[self.connection.session]
            sock = getattr(session, "interface", None)
            if isinstance(sock, socket.socket):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except (AttributeError, KeyError, OSError, TypeError):
            log.debug("TCP_NODELAY not set for %s", self.connection)

    def _write(self, command: str, **kwargs) -> None:
        super()._write(command, **kwargs)
        self.unconfirmed = True

    def _read(self, **kwargs) -> str:
        reply = super()._read(**kwargs)
        self.unconfirmed = False
        return reply

    def confirm(self) -> None:
        """Make sure the instrument has processed every command sent so far."""
        if self.unconfirmed:
            self.write("*OPC?")
            reply = self.read().strip()
            if reply != "1":  # IEEE-488.2: *OPC? answers 1 once everything before it is done
                raise ValueError(f"garbled reply to *OPC?: {reply!r}")


def _forget_session(visalib, session) -> None:
    """Drop what pyvisa and pyvisa-py keep about a closed session: they never forget it, so a
    night of reconnects (one per instrument fault) grew the process by ~1 kB each."""
    if session is None:
        return
    for table in ("sessions", "_last_status_in_session", "_ignore_warning_in_session"):
        entries = getattr(visalib, table, None)
        if isinstance(entries, dict):
            entries.pop(session, None)
