"""``cryolab monitor PATH… [--host H] [--port P] [--notify FILE]``: the page and the
notifications for run files, in one process.

Threads: the main thread watches the files (every half second: a stat, and a re-read of what
changed) and turns changes into notices; uvicorn serves the page from its own thread; each
notification target has its own thread (``notify``). As a companion of a run (``--companion``,
started by ``cryolab run --notify/--monitor-port``) it watches that one file, learns that its
parent process ended when its stdin closes (whatever way the parent ended), reports what the
file then says (the end of the run, or that its process is gone), and exits.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import logging
import secrets
import signal
import socket
import sys
import threading
import time
from pathlib import Path

from cryolab.inputs import InputError
from cryolab.monitor.alerts import RunAlerts
from cryolab.monitor.arguments import DEFAULT_PORT, TOKEN_ENV
from cryolab.monitor.config import NotifyConfig, load_notifications, token_from_env
from cryolab.monitor.watch import Library
from cryolab.runfile import RunFile, RunFileError

log = logging.getLogger("cryolab.monitor")

EXIT_OK, EXIT_FAILURE, EXIT_INVALID = 0, 1, 2
POLL_S = 0.5
DEFAULT_STALL_S = 600.0
#: how long notices still queued at the end may take to go out (a companion; Ctrl-C)
DRAIN_S = {True: 25.0, False: 5.0}
#: a companion whose parent ended waits this long for the file to say how the run ended
FINAL_WAIT_S = 10.0


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _refused(message: str) -> int:
    print(f"refused: {message}", file=sys.stderr)
    return EXIT_INVALID


def run_monitor(args: argparse.Namespace) -> int:
    paths = [Path(p) for p in args.paths]
    missing = [str(p) for p in paths if not (p.is_file() or p.is_dir())]
    if missing:
        return _refused(f"no such run file or folder: {', '.join(missing)}")
    if not args.companion:  # (a companion's file may still be being created)
        for path in paths:
            if path.is_file():
                try:
                    RunFile(path).close()
                except RunFileError as exc:
                    return _refused(str(exc))
    try:
        config = load_notifications(args.notify) if args.notify else None
        token = (config.access_token if config else None) or token_from_env()
    except InputError as exc:
        for problem in exc.problems:
            print(f"refused: {exc.source}: {problem}", file=sys.stderr)
        return EXIT_INVALID
    if token is None and args.new_token:
        token = secrets.token_urlsafe(24)
    serve = not args.companion or args.port is not None
    loopback = is_loopback(args.host)
    if serve and not loopback and token is None:
        return _refused(f"--host {args.host} is not a loopback address: the page would be open "
                        f"to the network, so it needs an access token (--new-token, "
                        f"access_token in the notifications file, or ${TOKEN_ENV})")
    sock = None
    if serve:
        try:
            sock = _bind(args.host, DEFAULT_PORT if args.port is None else args.port)
        except OSError as exc:
            print(f"cannot serve on {args.host} port {args.port}: {exc.strerror or exc}",
                  file=sys.stderr)
            return EXIT_FAILURE
    _set_up_logging(paths[0] if args.companion else None)
    return _serve(args, paths, config, token, loopback, sock)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
        sock.listen(64)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(False)
    return sock


def _set_up_logging(run_path: Path | None) -> None:
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    if run_path is not None:  # a companion logs beside the run's own log
        with contextlib.suppress(OSError):
            handler = logging.FileHandler(run_path.with_suffix(".monitor.log"),
                                          encoding="utf-8")
            handler.setFormatter(formatter)
            root.addHandler(handler)
    err = logging.StreamHandler()
    err.setFormatter(formatter)
    err.setLevel(logging.WARNING if run_path is not None else logging.INFO)
    root.addHandler(err)
    for noisy in ("uvicorn", "uvicorn.error", "uvicorn.access", "apprise"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _address(host: str, port: int, token: str | None) -> str:
    shown = socket.gethostname() if host in ("0.0.0.0", "::", "[::]") else host
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/" + (f"?token={token}" if token else "")


def _serve(args: argparse.Namespace, paths: list[Path], config: NotifyConfig | None,
           token: str | None, loopback: bool, sock: socket.socket | None) -> int:
    from cryolab.monitor.notify import Notifier

    stall_s = config.stall_after_s if config else DEFAULT_STALL_S
    library = Library(paths)
    notifier = Notifier(config) if config else None
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    parent_gone = threading.Event()
    if args.companion:
        threading.Thread(target=_wait_for_eof, args=(parent_gone,), daemon=True,
                         name="parent-watch").start()
    server = thread = None
    if sock is not None:
        server, thread = _start_server(library, sock, token, loopback, stall_s)
        print(f"monitor: {_address(args.host, sock.getsockname()[1], token)}", flush=True)
    alerts: dict[str, RunAlerts] = {}
    final_deadline = None
    try:
        while not stop.is_set():
            library.poll()
            for watcher in library.all():
                checker = alerts.get(watcher.id)
                if checker is None:
                    checker = alerts[watcher.id] = RunAlerts(watcher, stall_s, args.companion)
                for notice in checker.check():
                    if notifier is not None:
                        notifier.submit(notice)
                    else:
                        log.info("%s: %s", notice.event, notice.message)
            if args.companion:
                over = bool(alerts) and all(a.done for a in alerts.values())
                if parent_gone.is_set() and final_deadline is None:
                    final_deadline = time.monotonic() + FINAL_WAIT_S
                if over and (parent_gone.is_set() or _writer_released(library)):
                    break
                if final_deadline is not None and time.monotonic() > final_deadline:
                    log.warning("the run's process ended but its file does not say how")
                    break
            stop.wait(POLL_S)
    finally:
        if notifier is not None:
            if not notifier.drain(DRAIN_S[bool(args.companion)]):
                log.error("notifications still undelivered at exit")
            notifier.close()
        if server is not None and thread is not None:
            server.should_exit = True
            thread.join(timeout=5.0)
        library.close()
    return EXIT_OK


def _writer_released(library: Library) -> bool:
    """Nobody writes any of the files any more (a companion of a process that died)."""
    return all(w.live.writer_alive is not True for w in library.all())


def _wait_for_eof(event: threading.Event) -> None:
    """A companion's stdin is a pipe from its run: it closes when the run's process ends."""
    try:
        while sys.stdin.buffer.read(4096):
            pass
    except (OSError, ValueError, AttributeError):
        pass
    event.set()


def _start_server(library: Library, sock: socket.socket, token: str | None, loopback: bool,
                  stall_s: float):
    import uvicorn

    from cryolab.monitor.web import make_app

    app = make_app(library, token=token, loopback=loopback, stall_after_s=stall_s)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                            timeout_graceful_shutdown=2, server_header=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                              name="monitor-http", daemon=True)
    thread.start()
    return server, thread
