"""The read-only web page: a Starlette app of GET routes over a :class:`Library`.

Routes (every one GET/HEAD; anything else is 405, so nothing on the page can change a run):

* ``/``                      the run list (newest first), or straight to the only run
* ``/run/{id}``              one run's page
* ``/static/{name}``         the page's own script and style sheet (a fixed list)
* ``/api/runs``              the run list as JSON
* ``/api/runs/{id}``         one run's view as JSON; ``?since=V`` answers
                             ``{"unchanged": true, …}`` while the file is at version V;
                             ``?width=W``: the plots' width in pixels (decimation)

Files are named by ids (a hash of the path), never by paths, so a URL cannot reach another
file. With an access token every request needs it: ``?token=…`` once (it is then kept in a
cookie and the URL is cleaned), or ``Authorization: Bearer …``. On a loopback address the
Host header must be a loopback name too (no DNS rebinding).
"""

from __future__ import annotations

import hmac
import json
import threading
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import URL
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from cryolab.monitor.view import liveness, run_view, summary
from cryolab.monitor.watch import Library

COOKIE = "cryolab_monitor"
#: the only files /static serves, with their types
STATIC = {"monitor.js": "text/javascript; charset=utf-8",
          "monitor.css": "text/css; charset=utf-8"}
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' data:; connect-src 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")


def _static(name: str) -> bytes:
    return resources.files("cryolab.monitor").joinpath("static", name).read_bytes()


class Guard:
    """ASGI middleware: the access token (if any), the Host check, the security headers."""

    def __init__(self, app: ASGIApp, token: str | None, loopback: bool) -> None:
        self.app, self.token, self.loopback = app, token, loopback

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if self.loopback and _host_name(request.headers.get("host", "")) not in LOOPBACK_NAMES:
            await _secured(PlainTextResponse("this monitor answers on its loopback address "
                                             "only", 421))(scope, receive, send)
            return
        if self.token is not None:
            given = request.query_params.get("token")
            if given is not None and hmac.compare_digest(given.encode(), self.token.encode()):
                clean = URL(scope=scope).remove_query_params("token")
                response = RedirectResponse(str(clean.replace(scheme="", netloc="")) or "/",
                                            303)
                response.set_cookie(COOKIE, self.token, httponly=True, samesite="strict",
                                    path="/")
                await _secured(response)(scope, receive, send)
                return
            if not self._authorized(request):
                await _secured(HTMLResponse(
                    "<!doctype html><title>cryolab monitor</title><p>This monitor needs its "
                    "access token: open the address <code>cryolab monitor</code> printed "
                    "(it ends in <code>?token=…</code>).", 401))(scope, receive, send)
                return

        async def send_secured(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.decode().lower() not in SECURITY_HEADERS]
                headers += [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_secured)

    def _authorized(self, request: Request) -> bool:
        assert self.token is not None
        offered = [request.cookies.get(COOKIE, "")]
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            offered.append(auth[7:].strip())
        return any(hmac.compare_digest(o.encode(), self.token.encode()) for o in offered if o)


def _host_name(host: str) -> str:
    if host.startswith("["):
        return host.split("]")[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _secured(response: Response) -> Response:
    for key, value in SECURITY_HEADERS.items():
        response.headers[key] = value
    return response


class ViewCache:
    """One run view's JSON per (run, version, width, liveness): built once for all clients."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[tuple, bytes]] = {}

    def get(self, key: str, stamp: tuple, build: Any) -> bytes:
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and hit[0] == stamp:
                return hit[1]
        body = json.dumps(build(), separators=(",", ":"), allow_nan=False).encode()
        with self._lock:
            self._cache[key] = (stamp, body)
        return body


def make_app(library: Library, *, token: str | None = None, loopback: bool = True,
             stall_after_s: float = 600.0, poll_ms: int = 1000) -> Starlette:
    """The page's app; ``poll_ms``: how often the page asks for news."""
    page = _static("page.html").decode()
    cache = ViewCache()

    def html(run: str) -> HTMLResponse:
        return HTMLResponse(page.replace("{{RUN}}", run).replace("{{POLL_MS}}", str(poll_ms)))

    def index(request: Request) -> Response:
        watchers = library.all()
        if len(watchers) == 1 and not library.folders:
            return RedirectResponse(f"/run/{watchers[0].id}", 303)
        return html("")

    def run_page(request: Request) -> Response:
        if library.get(request.path_params["rid"]) is None:
            return PlainTextResponse("no such run", 404)
        return html(request.path_params["rid"])

    def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            return PlainTextResponse("not found", 404)
        return Response(_static(name), media_type=STATIC[name])

    def runs(request: Request) -> Response:
        items = [summary(w, stall_after_s) for w in library.newest_first()]
        return Response(json.dumps({"runs": items}, allow_nan=False),
                        media_type="application/json")

    def run_state(request: Request) -> Response:
        watcher = library.get(request.path_params["rid"])
        if watcher is None:
            return PlainTextResponse("no such run", 404)
        try:
            width = int(request.query_params.get("width", "800"))
            since = int(request.query_params.get("since", "-1"))
        except ValueError:
            return PlainTextResponse("width and since are whole numbers", 400)
        state = watcher.want_points()
        live = json.dumps(liveness(watcher, stall_after_s), allow_nan=False).encode()
        if state is not None and since == state.version and state.points is not None:
            return Response(b'{"unchanged":true,"version":%d,"live":%s}' % (state.version, live),
                            media_type="application/json")
        width = max(100, min(width, 4000)) // 50 * 50  # a few widths: the cache stays useful
        stamp = (state.version if state else None, state is not None and
                 state.points is not None, watcher.error, width)
        body = cache.get(f"{watcher.id}:{width}", stamp, lambda: {
            k: v for k, v in run_view(watcher, width, stall_after_s).items() if k != "live"})
        return Response(b'{"live":%s,%s' % (live, body[1:]), media_type="application/json")

    routes = [
        Route("/", index, methods=["GET"]),
        Route("/run/{rid:str}", run_page, methods=["GET"]),
        Route("/static/{name:str}", static, methods=["GET"]),
        Route("/api/runs", runs, methods=["GET"]),
        Route("/api/runs/{rid:str}", run_state, methods=["GET"]),
    ]
    middleware = [Middleware(Guard, token=token, loopback=loopback),
                  Middleware(GZipMiddleware, minimum_size=2000, compresslevel=4)]
    return Starlette(routes=routes, middleware=middleware)
