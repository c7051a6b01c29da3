"""``deskterm serve cti``: the URL a phone system posts its call events to.

Starlette routes and reads the bodies, uvicorn serves them (HTTP/1.1 on h11). One route:
``POST /cti/TOKEN``, with the event form-encoded (``sipgate.io``, ``curl --data``), as
``multipart/form-data`` (``curl --form``) or as a JSON object. Everything else is refused
without a redirect: an unknown path or token is 404 (the same answer, so a token cannot be
told from a path), a malformed or unknown event 400 with the reason, a body over
:data:`MAX_BODY` bytes 413. The answer to a good post is ``{}`` as Zammad gives it; to a
form-encoded ``newCall``, the XML that asks sipgate.io for the call's ``answer`` and
``hangup`` at the same URL (the ``--public-url`` when a TLS proxy stands in front).

The desk's work (token, event, call row) is one transaction on a worker thread, so the event
loop keeps taking posts while the database works; each post's outcome is one line on the
``deskterm.serve.cti`` log, without the token (a token's id names it) and with whatever the
PBX chose quoted by ``repr``.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import logging
import time
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any, ClassVar
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, Router

from deskterm.db.engine import Database
from deskterm.desk.context import Desk
from deskterm.desk.cti import Ingested, UnknownToken, receive, receive_many
from deskterm.domain.errors import DatabaseUnavailable, DeskError, InvalidInput
from deskterm.serve.asgi import AsgiServer, TooLarge, read_body

log = logging.getLogger("deskterm.serve.cti")

DEFAULT_PORT = 8090
#: A call event is a few hundred bytes; a body this large is no PBX's.
MAX_BODY = 16 * 1024
_MAX_FIELDS = 50
#: Posts written in one transaction at most.
MAX_BATCH = 100


async def _fields(request: Request, body: bytes) -> Mapping[str, object]:
    """The event's fields; a repeated field (``user[]``) as a list."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/json":
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            raise InvalidInput("the body is not JSON", field="body") from None
        if not isinstance(data, dict):
            raise InvalidInput("the JSON body must be an object", field="body")
        return data
    if kind == "multipart/form-data":

        async def replay() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        try:
            form = await Request(request.scope, replay).form(
                max_files=0, max_fields=_MAX_FIELDS, max_part_size=MAX_BODY
            )
        except Exception as exc:  # Starlette's HTTPException or the parser's own
            raise InvalidInput(f"the form is malformed ({exc})", field="body") from None
        pairs = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    elif kind in ("application/x-www-form-urlencoded", ""):
        try:
            pairs = parse_qsl(
                body.decode("utf-8"), keep_blank_values=True, max_num_fields=_MAX_FIELDS
            )
        except (UnicodeDecodeError, ValueError):
            raise InvalidInput("the form is not UTF-8 text of a few fields", field="body") from None
    else:
        raise InvalidInput(
            f"content type {kind!r} is not a form or JSON",
            field="body",
        )
    fields: dict[str, object] = {}
    for key, value in pairs:
        if key in fields or key.endswith("[]"):
            known = fields.get(key)
            fields[key] = [*known, value] if isinstance(known, list) else [value]
        else:
            fields[key] = value
    return fields


class CtiServer(AsgiServer):
    """The app and the settings of one server; :meth:`serve` runs it until cancelled."""

    #: Many PBX posts at once are fine; a flood past this is answered 503 at once.
    UVICORN: ClassVar[dict[str, Any]] = {"limit_concurrency": 1000}

    def __init__(
        self,
        db: Database,
        *,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        region: str | None = None,
        max_body: int = MAX_BODY,
        public_url: str | None = None,
    ) -> None:
        self.db = db
        #: How the PBX reaches this server (``https://desk.example.com``, behind a TLS proxy),
        #: for the follow-up URLs sipgate.io is given; the request's own address when None.
        self.public_url = public_url.rstrip("/") if public_url else None
        self.host = host
        self.port = port
        self.region = region
        self.max_body = max_body
        self.desk = Desk(db, None)
        self._pending: list[tuple[str, Mapping[str, object], asyncio.Future[Ingested]]] = []
        self._writer: asyncio.Task[None] | None = None
        self.app = Starlette(
            routes=[Route("/cti/{token}", self.post, methods=["POST"])],
        )
        # A path with a slash too many is a wrong URL, not one to be sent elsewhere.
        router: Router = self.app.router
        router.redirect_slashes = False

    async def post(self, request: Request) -> Response:
        started = time.perf_counter()
        client = request.client.host if request.client else "-"
        secret = request.path_params["token"]
        try:
            body = await read_body(request, self.max_body)
            fields = await _fields(request, body)
        except TooLarge:
            return self._answer(started, client, 413, "body too large", "")
        except ClientDisconnect:
            return self._answer(started, client, 400, "client went away", "")
        except InvalidInput as exc:
            fields = {"__refused__": str(exc)}
        try:
            if "__refused__" in fields:
                # A bad body still has its token checked first: 404 before 400.
                done = await asyncio.to_thread(self._check_only, secret, str(fields["__refused__"]))
            else:
                done = await self._submit(secret, fields)
        except UnknownToken:
            return self._answer(started, client, 404, "unknown token", "Not Found")
        except InvalidInput as exc:
            return self._answer(started, client, 400, str(exc), str(exc))
        except DatabaseUnavailable as exc:
            return self._answer(started, client, 503, str(exc), "the desk is not available")
        except DeskError as exc:
            return self._answer(started, client, 400, str(exc), str(exc))
        said = f"{fields.get('event')} {done.call_id!r} call {done.id}" + (
            "" if done.changed else " (no change)"
        )
        response = self._answer(started, client, 200, said, None)
        if fields.get("event") == "newCall" and request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"
        ):
            # sipgate.io sends a call's answer and hangup only to the URLs its newCall's
            # answer names; other PBXs read no answer at all.
            here = html.escape(f"{self.public_url or self._own_base(request)}{request.url.path}")
            response = Response(
                f'<?xml version="1.0" encoding="UTF-8"?>\n'
                f'<Response onAnswer="{here}" onHangup="{here}"/>\n',
                media_type="application/xml",
            )
        return response

    @staticmethod
    def _own_base(request: Request) -> str:
        return f"{request.url.scheme}://{request.url.netloc}"

    async def _submit(self, secret: str, fields: Mapping[str, object]) -> Ingested:
        """Queue a post for the writer; its outcome, or the error that refused it."""
        done: asyncio.Future[Ingested] = asyncio.get_running_loop().create_future()
        self._pending.append((secret, fields, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        return await done

    async def _write(self) -> None:
        """One transaction at a time on a worker thread, each holding every post that came
        in meanwhile: the database is never asked for two writes at once (SQLite would make
        them wait on each other), and a burst is a few commits."""
        while self._pending:
            batch = self._pending[:MAX_BATCH]
            del self._pending[:MAX_BATCH]
            posts = [(secret, fields) for secret, fields, _done in batch]
            results: Sequence[Ingested | Exception]
            try:
                results = await asyncio.to_thread(
                    partial(self.desk.write, receive_many, posts=posts, region=self.region)
                )
            except Exception as exc:  # the whole transaction failed: every post with it
                results = [exc] * len(batch)
            for (_secret, _fields, done), result in zip(batch, results, strict=True):
                if done.done():
                    continue
                if isinstance(result, BaseException):
                    done.set_exception(result)
                else:
                    done.set_result(result)

    def _check_only(self, secret: str, reason: str) -> Ingested:
        # The same transaction as a good post up to the event, which is then refused.
        with contextlib.suppress(InvalidInput):
            self.desk.write(receive, secret=secret, fields={}, region=self.region)
        raise InvalidInput(reason)

    def _answer(
        self, started: float, client: str, status: int, said: str, body: str | None
    ) -> Response:
        ms = (time.perf_counter() - started) * 1000
        log.info("%s POST /cti/… %d %s (%.1f ms)", client, status, said, ms)
        if body is None:
            return JSONResponse({})
        return PlainTextResponse(body + "\n", status_code=status)
