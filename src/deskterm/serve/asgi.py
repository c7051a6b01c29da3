"""Serving a Starlette app on uvicorn, as ``serve cti`` and ``serve web`` both do."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any, ClassVar, Self

from starlette.requests import Request


class TooLarge(Exception):
    """A request body past the server's limit (answered 413)."""


async def read_body(request: Request, limit: int) -> bytes:
    """The request's body, refused as :class:`TooLarge` past ``limit`` bytes, whether its
    ``Content-Length`` says so up front or the stream grows past it."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


#: uvicorn's settings for every server of ours (its loop and HTTP parser are its "auto":
#: uvloop and httptools where installed).
_OURS: dict[str, Any] = {
    "log_config": None,
    "access_log": False,
    "lifespan": "off",
    "server_header": False,
    "date_header": False,
    "proxy_headers": False,
    "timeout_keep_alive": 5,
}


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so that a port in use is an OSError for the command
    to say in one line (uvicorn would log it and exit the process)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, backlog=2048)


def run_processes(factory: str, sock: socket.socket, workers: int, **config: Any) -> None:
    """Serve on ``sock`` from ``workers`` processes until interrupted: uvicorn's supervisor
    starts them (each a fresh interpreter that calls ``factory``, "module:function", for
    its app), restarts one that dies, and stops them all on ctrl+c or SIGTERM."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    host, port = sock.getsockname()[:2]
    settings = uvicorn.Config(
        factory, host=host, port=port, factory=True, workers=workers, **_OURS, **config
    )
    Multiprocess(settings, sockets=[sock]).run()


#: The most a request's line and headers may take, as h11's ``max_incomplete_event_size``.
HEAD_MAX = 16 * 1024


def http_protocol() -> Any:
    """The HTTP parser our servers use: httptools, bounded, where installed; else h11."""
    try:
        from deskterm.serve.bounded_http import BoundedHead
    except ImportError:
        return "h11"
    return BoundedHead


async def run_uvicorn(
    app: Any,
    host: str,
    port: int,
    *,
    sock: socket.socket | None = None,
    on_bound: Callable[[str, int], None] | None = None,
    **config: Any,
) -> None:
    """Serve ``app`` until cancelled; ``on_bound(host, port)`` once it listens (the port the
    system chose for port 0). uvicorn's own logging, access log and headers are off: each
    server writes its own log line, without the tokens in its paths."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, **_OURS, **config))
    if sock is None:
        sock = bind(host, port)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not task.done():
        await asyncio.sleep(0.01)
    if server.started and server.servers and on_bound is not None:
        bound = server.servers[0].sockets[0].getsockname()
        on_bound(bound[0], bound[1])
    try:
        await task
    except asyncio.CancelledError:
        server.should_exit = True
        raise


class AsgiServer:
    """A server of ours: ``app`` served at ``host``:``port`` by :func:`run_uvicorn`, with
    ``UVICORN``'s settings on top."""

    UVICORN: ClassVar[dict[str, Any]] = {}
    app: Any
    host: str
    port: int

    async def serve(
        self,
        *,
        sock: socket.socket | None = None,
        on_ready: Callable[[Self], None] | None = None,
    ) -> None:
        """Serve until cancelled; ``on_ready(self)`` once listening, ``port`` then the real one."""

        def bound(host: str, port: int) -> None:
            self.host, self.port = host, port
            if on_ready is not None:
                on_ready(self)

        await run_uvicorn(self.app, self.host, self.port, sock=sock, on_bound=bound, **self.UVICORN)
