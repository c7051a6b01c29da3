"""``deskterm serve web``: the customer's case page, reply, verdict and survey.

Starlette routes, uvicorn serves (as ``serve cti``); pages are rendered on the server from
the Jinja2 files under ``data/web`` (autoescaped: whatever a customer or a caller typed is
text, never markup) with one CSS file and no script. Routes:

- ``GET /case/TOKEN``: the case as ``ticket show --customer`` shows it;
- ``POST /case/TOKEN/reply`` (``text``, ``csrf_token``): a reply to the case;
- ``POST /case/TOKEN/verdict`` (``verdict`` = ``solved`` | ``broken``, ``text``,
  ``csrf_token``): on a resolved case;
- ``GET``/``POST /survey/TOKEN`` (``csat`` 1-5, ``nps`` 0-10, ``comment``, ``csrf_token``);
- ``GET /help?q=WORDS`` and ``GET /help/ID-words``: the published knowledge-base articles,
  found as ``kb search`` finds them, their Markdown rendered with HTML off;
- ``GET``/``POST /contact`` (``name``, ``email``, ``subject``, ``text``, ``csrf_token``, and
  the trap field ``website`` that people never see): a known contact's address gets a
  confirmation mail, any other nothing, and the visitor the same page either way; at most
  :data:`CONTACT_LIMIT` an hour per client and per address (:class:`RateLimit`), 429 past it;
- ``GET /contact/confirm/TOKEN``: the confirmation link opens the ticket (once) and links
  to its case page;
- ``POST /sms/TOKEN``: an SMS gateway's inbound text (form or JSON; ``desk/sms_inbound.py``);
- ``GET /static/portal.css``.

Whatever else is asked, and any token that does not open a case (changed, expired, revoked,
of a ticket now someone else's) gets the same 404 page, so a page never tells a guess from a
dead link. A form without its ``csrf_token`` (or with another case's), or posted from
another site (``Origin``, ``Sec-Fetch-Site``), is refused 403 before anything is written; a
body over :data:`MAX_BODY` bytes 413. Every answer carries a strict Content-Security-Policy
(nothing but our own stylesheet; forms post only here; no framing), ``nosniff`` and
``Referrer-Policy: no-referrer`` (the token is in the URL: no other site may see it), and
``Cache-Control: no-store`` on a case's pages. No cookie is ever set.

Each request is one line on the ``deskterm.serve.web`` log with its outcome and, for a
refusal, why; never a token (``/case/…``, ``/sms/…``) nor a visitor's email address. The
desk's work runs on a worker thread, so the event loop keeps answering while the database
works.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict, deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from datetime import datetime
from functools import cache, partial
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deskterm.db.engine import Database
from deskterm.desk.context import Desk
from deskterm.desk.customer import DESK, YOU
from deskterm.desk.mailparse import describe_size
from deskterm.desk.portal import (
    COMMENT_MAX,
    CONFIRM_HOURS,
    FILES_MAX,
    FILES_MAX_BYTES,
    SUBJECT_MAX,
    TEXT_MAX,
    CaseSight,
    CaseStamp,
    CsrfRefused,
    PortalInputError,
    SurveySight,
    UnknownCase,
    UnknownPage,
    Upload,
    answer_survey,
    case_stamp,
    check_contact_form,
    check_link,
    confirm_contact,
    contact_form_token,
    faq_article,
    faq_search,
    files_limit_text,
    files_too_large_text,
    open_case,
    post_reply,
    post_verdict,
    read_survey,
    request_contact,
)
from deskterm.desk.sms_inbound import UnknownSmsToken, check_sms_token, receive_sms
from deskterm.domain.errors import DatabaseUnavailable, DeskError, InvalidInput
from deskterm.i18n import babel_locale, normalize, translate
from deskterm.paths import shipped_data_dir
from deskterm.serve.asgi import HEAD_MAX, AsgiServer, TooLarge, http_protocol, read_body

log = logging.getLogger("deskterm.serve.web")

DEFAULT_PORT = 8080
#: A reply of TEXT_MAX characters, each up to 4 bytes and percent-encoded, and its fields.
MAX_BODY = 128 * 1024
_MAX_FIELDS = 20
#: A reply with its files (``multipart/form-data``, that route only): the files' limit and
#: what a form of text needs besides.
UPLOAD_MAX_BODY = FILES_MAX_BYTES + MAX_BODY
#: Past UPLOAD_MAX_BODY the rest of a body is read and dropped, up to this, so that the
#: browser, still sending, reads our page (its words kept) rather than a reset connection.
_DRAIN_MAX = 2 * UPLOAD_MAX_BODY
#: More file parts than this in one post is no browser's form: refused without a page.
_PARTS_MAX = 4 * FILES_MAX
#: What an SMS gateway may post: a text of 1600 characters, its number and a few fields more.
SMS_MAX_BODY = 16 * 1024
#: Contact forms per client address, and per email address, in :data:`CONTACT_WINDOW`.
CONTACT_LIMIT = 5
CONTACT_WINDOW = 3600.0
#: The contact form's field that people never see and robots fill in.
TRAP_FIELD = "website"
#: Case pages kept for a reload (:class:`CasePages`), and for how long at most.
PAGES_KEPT = 2000
PAGE_SECONDS = 60.0

#: Sent with every answer, whatever it is.
SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
_CASE_CACHE = "no-store"
#: What a redirect after a post says on the page it lands on.
_DONE = ("reply", "solved", "broken", "survey")


class RateLimit:
    """At most ``limit`` hits per key in a sliding window of ``window`` seconds.

    Kept in this process's memory, on purpose: it needs no table and no cleanup job, and a
    contact form is cheap to refuse. What that means: every ``serve web`` process counts on
    its own (two processes let twice as much through), a restart forgets, and behind a
    reverse proxy every client has the proxy's address unless uvicorn is told to trust the
    proxy's ``X-Forwarded-For``. Only the event loop's thread calls it, so it takes no lock.
    At most ``keys`` keys are remembered; past that the oldest are forgotten first.
    """

    def __init__(self, limit: int, window: float, *, keys: int = 10_000) -> None:
        self.limit = limit
        self.window = window
        self.keys = keys
        self._hits: dict[str, deque[float]] = {}

    def allow(self, key: str, now: float | None = None) -> bool:
        """Counts a hit for ``key`` and says whether it is within the limit."""
        now = time.monotonic() if now is None else now
        hits = self._hits.pop(key, None) or deque()
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        allowed = len(hits) < self.limit
        if allowed:
            hits.append(now)
        self._hits[key] = hits  # re-inserted: the dict's order is the keys' last use
        while len(self._hits) > self.keys:
            del self._hits[next(iter(self._hits))]
        return allowed


class CasePages:
    """Case pages as made for their link, kept while the case is as it was then.

    Keyed by the link's token (the page carries it, and its form token: a page is only
    ever served again to the same link) and kept with the :class:`CaseStamp` it was made
    for; served again only while a fresh read of the stamp is the same (any change to the
    case's log or fields bumps the ticket's version; a revocation the generation; a
    contact's language its own field). What the version does not follow (an analyst's or
    a team's new name) shows within :data:`PAGE_SECONDS`. Only plain 200 pages are kept;
    the event loop's thread alone touches it, so it takes no lock. At most ``pages``, the
    least recently used forgotten first.
    """

    def __init__(self, pages: int = PAGES_KEPT, seconds: float = PAGE_SECONDS) -> None:
        self.pages = pages
        self.seconds = seconds
        self._kept: OrderedDict[str, tuple[CaseStamp, float, bytes]] = OrderedDict()
        #: Pages served again, for a test or a curious operator.
        self.served = 0

    def has(self, token: str) -> bool:
        return token in self._kept

    def get(self, token: str, stamp: CaseStamp, now: float | None = None) -> bytes | None:
        kept = self._kept.get(token)
        if kept is None:
            return None
        made_for, until, body = kept
        if made_for != stamp or (time.monotonic() if now is None else now) >= until:
            del self._kept[token]
            return None
        self._kept.move_to_end(token)
        self.served += 1
        return body

    def put(self, token: str, stamp: CaseStamp, body: bytes, now: float | None = None) -> None:
        if self.pages <= 0:
            return
        until = (time.monotonic() if now is None else now) + self.seconds
        self._kept[token] = (stamp, until, body)
        self._kept.move_to_end(token)
        while len(self._kept) > self.pages:
            self._kept.popitem(last=False)


class Refused(Exception):
    """A request turned away before the desk was asked: status, reason for the log."""

    def __init__(self, status: int, why: str) -> None:
        super().__init__(why)
        self.status = status
        self.why = why


class Refusal(str):
    """What a handler says of a request it turned away while answering it as if it had not
    (the contact form's trap field): logged as a refusal, whatever the status."""

    __slots__ = ()


class SecurityHeaders:
    """ASGI middleware: the headers of :data:`SECURITY_HEADERS` on every answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.headers = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _v in message.get("headers", [])}
                extra = [(k, v) for k, v in self.headers if k not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)


# --------------------------------------------------------------------------- words


@cache
def words(language: str) -> Mapping[str, str]:
    """Every word of the pages in the customer's language (the templates hold none)."""
    return {
        "title_case": translate(language, "Your case {ref}"),
        "status": translate(language, "Status"),
        "holder": translate(language, "Who has it"),
        "team": translate(language, "Team"),
        "opened": translate(language, "Opened"),
        "nobody_yet": translate(language, "Not assigned yet"),
        "story": translate(language, "What happened so far"),
        "nothing_yet": translate(language, "Nothing to show yet."),
        "you": translate(language, "You"),
        "desk": translate(language, "Service desk"),
        "reply_heading": translate(language, "Write to us"),
        "reply_hint": translate(
            language, "Your message is added to your case and goes to whoever has it."
        ),
        "reply_label": translate(language, "Your message"),
        "files_label": translate(language, "Files (optional)"),
        "your_files": translate(language, "Files you sent us"),
        "send": translate(language, "Send"),
        "verdict_heading": translate(language, "Is your problem solved?"),
        "verdict_label": translate(language, "Anything to add? (optional)"),
        "solved": translate(language, "Yes, it is solved"),
        "broken": translate(language, "No, it is still broken"),
        "survey_link": translate(language, "Tell us how we did"),
        "closed_note": translate(
            language, "This case is closed. Please write to us to open a new one."
        ),
        "done_reply": translate(language, "Thank you: your message was added to your case."),
        "done_solved": translate(language, "Thank you for letting us know."),
        "done_broken": translate(language, "Your case was reopened; we will get back to you."),
        "done_survey": translate(language, "Thank you for your answer."),
        "survey_title": translate(language, "How did we do? ({ref})"),
        "csat_question": translate(
            language, "How satisfied are you with how we handled your case?"
        ),
        "csat_1": translate(language, "1 - very dissatisfied"),
        "csat_5": translate(language, "5 - very satisfied"),
        "nps_question": translate(
            language, "How likely is it that you would recommend us to a colleague? (optional)"
        ),
        "nps_0": translate(language, "0 - not at all likely"),
        "nps_10": translate(language, "10 - extremely likely"),
        "comment_label": translate(language, "Anything else you want to tell us? (optional)"),
        "survey_send": translate(language, "Send my answer"),
        "changeable_until": translate(language, "You can change your answer until {when}."),
        "back_to_case": translate(language, "Back to your case"),
        "not_found_title": translate(language, "Page not found"),
        "not_found": translate(
            language,
            "This link does not open a case. It may be mistyped or too old, or it was "
            "replaced by a newer one: please use the link in our latest message, or write "
            "to us.",
        ),
        "forbidden_title": translate(language, "Please try again"),
        "forbidden": translate(
            language,
            "We could not accept this form. Please open your case from our latest message "
            "and send it again.",
        ),
        "too_large_title": translate(language, "Too long"),
        "too_large": translate(
            language, "What you sent is too long. Please shorten it and send it again."
        ),
        "busy_title": translate(language, "Please try again later"),
        "busy": translate(
            language, "We cannot show your case right now. Please try again in a few minutes."
        ),
        "conflict": translate(
            language, "Your case changed while you were writing. Please look and send again."
        ),
        "error_title": translate(language, "Something went wrong"),
        "footer": translate(
            language, "This page is only for you: please do not share its address."
        ),
        # The help pages and the contact form, for any visitor.
        "help_title": translate(language, "Help"),
        "help_intro": translate(
            language, "Answers to common questions. Search for the words of your problem."
        ),
        "search_label": translate(language, "Search the help articles"),
        "search": translate(language, "Search"),
        "results_for": translate(language, "Articles for: {query}"),
        "no_hits": translate(language, "No article matches your search. Try other words."),
        "no_articles": translate(language, "There are no help articles yet."),
        "all_articles": translate(language, "All help articles"),
        "updated": translate(language, "Updated {when}"),
        "ask_us": translate(language, "Did not find your answer? Write to us."),
        "contact_title": translate(language, "Contact us"),
        "contact_intro": translate(
            language,
            "Tell us what is wrong. We will send a link to your email address if it is one "
            "we know you by: open it to open your case.",
        ),
        "name_label": translate(language, "Your name (optional)"),
        "email_label": translate(language, "Your email address"),
        "subject_label": translate(language, "What is it about?"),
        "message_label": translate(language, "Your message"),
        # Translators: the label of a field hidden from people, which only robots fill in.
        "trap_label": translate(language, "Leave this field empty"),
        "sent_title": translate(language, "Please check your mail"),
        "sent": translate(
            language,
            "If we know this address, we have sent it a link. Open the link within "
            "{hours} hours to open your case.",
        ),
        "too_many_title": translate(language, "Too many messages"),
        "too_many": translate(
            language,
            "We have received several messages from you in a short time. Please try "
            "again in an hour.",
        ),
        "confirmed_title": translate(language, "Your case is open"),
        "confirmed": translate(language, "We have opened case {ref} for you."),
        "confirmed_before": translate(language, "Case {ref} was already opened with this link."),
        "open_case": translate(language, "Open your case"),
    }


@cache
def _moment_format(language: str) -> tuple[Any, Any, Any]:
    """The language's Babel locale and its day and time patterns, found once: Babel's
    ``format_skeleton`` parses the locale and matches the skeleton on every call, a third
    of a case page's rendering."""
    from babel import Locale
    from babel.dates import match_skeleton, parse_pattern

    locale = Locale.parse(babel_locale(language))
    known = locale.datetime_skeletons

    def pattern(skeleton: str) -> Any:
        found = skeleton if skeleton in known else match_skeleton(skeleton, known)
        return parse_pattern(known[found] if found else skeleton)

    return locale, pattern("yMMMd"), pattern("Hm")


def _when(at: datetime | None, language: str) -> str:
    """``Dec 5, 2026, 14:03`` in the reader's language (as Babel's ``format_skeleton``)."""
    if at is None:
        return ""
    locale, day, hours = _moment_format(language)
    mine = at.astimezone()
    return f"{day.apply(mine, locale)}, {hours.apply(mine, locale)}"


def _accept_language(request: Request) -> str:
    """The first language the browser asks for that we speak, else English."""
    for part in request.headers.get("accept-language", "").split(",")[:10]:
        found = normalize(part.split(";", 1)[0].strip())
        if found:
            return found
    return "en"


# --------------------------------------------------------------------------- requests


def _form(request: Request, body: bytes) -> dict[str, str]:
    """A form's fields (the first of a repeated one); refused unless url-encoded UTF-8."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise Refused(415, f"content type {kind!r} is not a form")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=_MAX_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise Refused(400, "the form is not UTF-8 text of a few fields") from None
    fields: dict[str, str] = {}
    for key, value in pairs:
        fields.setdefault(key, value)
    return fields


class _Uploaded:
    """A reply posted as ``multipart/form-data``: its fields (the first of each), its files
    (spooled by Starlette: on disk past 1 MB each), and whether the body was past
    :data:`UPLOAD_MAX_BODY` (then no file was kept, but the words typed before them were)."""

    def __init__(self, fields: dict[str, str], files: list[UploadFile], *, over: bool) -> None:
        self.fields = fields
        self.files = files
        self.over = over

    def uploads(self) -> list[Upload]:
        return [
            Upload(
                name=f.filename or "",
                content_type=f.content_type or "",
                size=f.size or 0,
                file=f.file,
            )
            for f in self.files
        ]

    def close(self) -> None:
        for f in self.files:
            f.file.close()


def _fields_and_files(
    items: list[tuple[str, str | UploadFile]],
) -> tuple[dict[str, str], list[UploadFile]]:
    fields: dict[str, str] = {}
    files: list[UploadFile] = []
    for key, value in items:
        if isinstance(value, str):
            fields.setdefault(key, value)
        # A file input left empty is sent as a part without a name or a byte: no file.
        elif key == "files" and (value.filename or value.size):
            files.append(value)
        else:
            value.file.close()
    return fields, files


async def _read_upload(request: Request, limit: int) -> _Uploaded:
    """A multipart body read as it streams in, never held whole: the text fields in
    memory, each file spooled; past ``limit`` bytes the files are dropped."""
    from starlette.formparsers import MultiPartException, MultiPartParser

    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > _DRAIN_MAX):
        raise Refused(413, f"body too large: {declared[:20]} bytes declared")

    async def chunks() -> AsyncGenerator[bytes, None]:
        size, more = 0, True
        while more:
            message = await request.receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnect
            body = message.get("body", b"")
            more = message.get("more_body", False)
            size += len(body)
            if size > limit:
                # What fits is parsed still: the words typed come before the files.
                yield body[: len(body) - (size - limit)]
                while more and size <= _DRAIN_MAX:
                    message = await request.receive()
                    if message["type"] == "http.disconnect":
                        raise ClientDisconnect
                    size += len(message.get("body", b""))
                    more = message.get("more_body", False)
                raise TooLarge
            yield body

    parser = MultiPartParser(
        request.headers,
        chunks(),
        max_files=_PARTS_MAX,
        max_fields=_MAX_FIELDS,
        max_part_size=MAX_BODY,
    )
    try:
        form = await parser.parse()
    except TooLarge:
        # The fields that came before the files (the form puts the words first).
        fields, files = _fields_and_files(parser.items)
        for f in files:
            f.file.close()
        return _Uploaded(fields, [], over=True)
    except MultiPartException as exc:
        raise Refused(400, f"bad upload: {exc.message}") from None
    except ClientDisconnect:
        raise Refused(400, "client went away") from None
    fields, files = _fields_and_files(list(form.multi_items()))
    return _Uploaded(fields, files, over=False)


class WebServer(AsgiServer):
    """The app and the settings of one server; :meth:`serve` runs it until cancelled."""

    UVICORN: ClassVar[dict[str, Any]] = {
        "limit_concurrency": 1000,
        "h11_max_incomplete_event_size": HEAD_MAX,
        "http": http_protocol(),
    }

    def __init__(
        self,
        db: Database,
        *,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        base_url: str | None = None,
        max_body: int = MAX_BODY,
        templates: Path | None = None,
        region: str | None = None,
    ) -> None:
        from jinja2 import Environment, FileSystemLoader, StrictUndefined

        self.db = db
        self.host = host
        self.port = port
        #: How customers reach this server (``https://help.example.com``): a form posted
        #: from that origin is ours, as is one from the request's own.
        self.base_url = base_url.rstrip("/") if base_url else None
        self.max_body = max_body
        #: Where a texting number without a country code is (the ``phone_region`` setting).
        self.region = region
        self.desk = Desk(db, None)
        self.per_client = RateLimit(CONTACT_LIMIT, CONTACT_WINDOW)
        self.pages = CasePages()
        self.per_address = RateLimit(CONTACT_LIMIT, CONTACT_WINDOW)
        folder = templates or shipped_data_dir() / "web"
        self.css = (folder / "portal.css").read_bytes()
        self.jinja = Environment(
            loader=FileSystemLoader(folder),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        routes = [
            Route("/case/{token}", self.case, methods=["GET"]),
            Route("/case/{token}/reply", self.reply, methods=["POST"]),
            Route("/case/{token}/verdict", self.verdict, methods=["POST"]),
            Route("/survey/{token}", self.survey, methods=["GET", "POST"]),
            Route("/help", self.help_index, methods=["GET"]),
            Route("/help/{token}", self.help_article, methods=["GET"]),
            Route("/contact", self.contact, methods=["GET", "POST"]),
            Route("/contact/confirm/{token}", self.contact_confirm, methods=["GET"]),
            Route("/sms/{token}", self.sms, methods=["POST"]),
            Route("/static/portal.css", self.stylesheet, methods=["GET"]),
        ]
        inner = Starlette(
            routes=routes,
            exception_handlers={HTTPException: self._http_error},  # type: ignore[dict-item]
        )
        # A path with a slash too many is a wrong URL, not one to be sent elsewhere.
        router: Router = inner.router
        router.redirect_slashes = False
        self.app: ASGIApp = SecurityHeaders(inner)

    # ------------------------------------------------------------------ pages

    def _page(
        self,
        template: str,
        language: str,
        status: int = 200,
        **values: Any,
    ) -> HTMLResponse:
        html = self.jinja.get_template(template).render(w=words(language), lang=language, **values)
        return self._html(html, status)

    @staticmethod
    def _html(html: str | bytes, status: int = 200) -> HTMLResponse:
        response = HTMLResponse(html, status_code=status)
        response.headers["Cache-Control"] = _CASE_CACHE
        return response

    def _message(self, language: str, status: int, title: str, text: str) -> HTMLResponse:
        w = words(language)
        return self._page("message.html", language, status, title=w[title], text=w[text])

    def _case_page(
        self,
        sight: CaseSight,
        token: str,
        *,
        status: int = 200,
        done: str | None = None,
        error: str | None = None,
        typed: str = "",
    ) -> HTMLResponse:
        language = sight.language
        w = words(language)
        view = sight.view
        entries = [
            {
                "at": _when(e.at, language),
                "by": w["you"] if e.by == YOU else w["desk"] if e.by == DESK else e.by,
                "mine": e.by == YOU,
                "text": e.text,
            }
            for e in view.entries
        ]
        return self._page(
            "case.html",
            language,
            status,
            sight=sight,
            view=view,
            token=token,
            entries=entries,
            opened=_when(view.opened_at, language),
            done=w[f"done_{done}"] if done in _DONE else None,
            error=error,
            typed=typed,
            text_max=TEXT_MAX,
            files=[
                {"name": f.name, "size": describe_size(f.size, language=language)}
                for f in sight.files
            ],
            files_hint=files_limit_text(language),
        )

    def _survey_page(
        self,
        sight: SurveySight,
        token: str,
        *,
        status: int = 200,
        done: bool = False,
        error: str | None = None,
        chosen: Mapping[str, str] | None = None,
    ) -> HTMLResponse:
        values = {
            "csat": str(sight.csat) if sight.csat is not None else "",
            "nps": str(sight.nps) if sight.nps is not None else "",
            "comment": sight.comment or "",
        }
        values.update({k: v for k, v in (chosen or {}).items() if k in values})
        w = words(sight.language)
        until = _when(sight.changeable_until, sight.language)
        return self._page(
            "survey.html",
            sight.language,
            status,
            sight=sight,
            token=token,
            values=values,
            done=w["done_survey"] if done else None,
            error=error,
            until=w["changeable_until"].format(when=until) if until else None,
            comment_max=COMMENT_MAX,
        )

    # ------------------------------------------------------------------ routes

    async def case(self, request: Request) -> Response:
        return await self._handle(request, self._show_case)

    async def reply(self, request: Request) -> Response:
        return await self._handle(request, self._post_reply)

    async def verdict(self, request: Request) -> Response:
        return await self._handle(request, self._post_verdict)

    async def survey(self, request: Request) -> Response:
        return await self._handle(request, self._survey)

    async def help_index(self, request: Request) -> Response:
        return await self._handle(request, self._help_index)

    async def help_article(self, request: Request) -> Response:
        return await self._handle(request, self._help_article)

    async def contact(self, request: Request) -> Response:
        return await self._handle(request, self._contact)

    async def contact_confirm(self, request: Request) -> Response:
        return await self._handle(request, self._contact_confirm)

    async def sms(self, request: Request) -> Response:
        return await self._handle(request, self._sms)

    async def stylesheet(self, request: Request) -> Response:
        return Response(
            self.css,
            media_type="text/css",
            headers={"Cache-Control": "public, max-age=3600"},
        )

    async def _show_case(self, request: Request, token: str) -> tuple[Response, str]:
        done = request.query_params.get("done")
        plain = done not in _DONE
        if plain and self.pages.has(token):
            stamp = await self._desk(partial(self.desk.read, case_stamp, token=token))
            body = self.pages.get(token, stamp)
            if body is not None:
                return self._html(body), "shown"
        sight = await self._desk(partial(self.desk.read, open_case, token=token))
        page = self._case_page(sight, token, done=done)
        if plain and sight.stamp is not None:
            self.pages.put(token, sight.stamp, bytes(page.body))
        return page, "shown"

    async def _post_reply(self, request: Request, token: str) -> tuple[Response, str]:
        posted = await self._posted_reply(request, token)
        try:
            text = posted.fields.get("text", "")
            if posted.over:
                sight = await self._desk(partial(self.desk.read, open_case, token=token))
                error = files_too_large_text(sight.language)
                page = self._case_page(sight, token, status=413, error=error, typed=text)
                return page, f"reply: upload past {UPLOAD_MAX_BODY} bytes"
            try:
                done = await self._desk(
                    partial(
                        self.desk.write,
                        post_reply,
                        token=token,
                        csrf=posted.fields.get("csrf_token"),
                        text=text,
                        files=posted.uploads(),
                    )
                )
            except PortalInputError as exc:
                sight = await self._desk(partial(self.desk.read, open_case, token=token))
                page = self._case_page(sight, token, status=400, error=exc.message, typed=text)
                return page, f"reply: {exc.why}"
        finally:
            posted.close()
        said = "reply" + (f" with {len(done.files)} files" if done.files else "")
        said += " (back to work)" if done.back_to_work else ""
        return self._redirect(f"/case/{token}?done=reply"), said

    async def _posted_reply(self, request: Request, token: str) -> _Uploaded:
        """A reply, as a form of text or with files; a refusal as :meth:`_posted` gives."""
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "multipart/form-data":
            return _Uploaded(await self._posted(request, token), [], over=False)
        try:
            self._check_origin(request)
            return await _read_upload(request, UPLOAD_MAX_BODY)
        except Refused:
            await self._desk(partial(self.desk.read, check_link, token=token))
            raise

    async def _post_verdict(self, request: Request, token: str) -> tuple[Response, str]:
        fields = await self._posted(request, token)
        verdict = fields.get("verdict", "")
        text = fields.get("text", "")
        try:
            await self._desk(
                partial(
                    self.desk.write,
                    post_verdict,
                    token=token,
                    csrf=fields.get("csrf_token"),
                    verdict=verdict,
                    text=text,
                )
            )
        except PortalInputError as exc:
            sight = await self._desk(partial(self.desk.read, open_case, token=token))
            page = self._case_page(sight, token, status=400, error=exc.message, typed=text)
            return page, f"verdict: {exc.why}"
        return self._redirect(f"/case/{token}?done={verdict}"), f"verdict {verdict}"

    async def _survey(self, request: Request, token: str) -> tuple[Response, str]:
        if request.method != "POST":
            sight = await self._desk(partial(self.desk.read, read_survey, token=token))
            # A score chosen in the message's link (one click) is preselected, not saved.
            chosen = {k: request.query_params.get(k, "") for k in ("csat", "nps")}
            chosen = {k: v for k, v in chosen.items() if v.isascii() and v.isdigit()}
            done = request.query_params.get("done") == "survey"
            return self._survey_page(sight, token, done=done, chosen=chosen), "survey shown"
        fields = await self._posted(request, token)
        try:
            await self._desk(
                partial(
                    self.desk.write,
                    answer_survey,
                    token=token,
                    csrf=fields.get("csrf_token"),
                    csat=fields.get("csat"),
                    nps=fields.get("nps"),
                    comment=fields.get("comment"),
                )
            )
        except PortalInputError as exc:
            sight = await self._desk(partial(self.desk.read, read_survey, token=token))
            page = self._survey_page(sight, token, status=400, error=exc.message, chosen=fields)
            return page, f"survey: {exc.why}"
        return self._redirect(f"/survey/{token}?done=survey"), "survey answered"

    # ------------------------------------------------------------------ help, contact, sms

    async def _help_index(self, request: Request, token: str) -> tuple[Response, str]:
        language = _accept_language(request)
        query = request.query_params.get("q", "")[:200]
        hits = await self._desk(partial(self.desk.read, faq_search, query=query))
        page = self._page("help.html", language, query=query, hits=hits)
        return page, f"help: {len(hits)} articles"

    async def _help_article(self, request: Request, token: str) -> tuple[Response, str]:
        language = _accept_language(request)
        article = await self._desk(partial(self.desk.read, faq_article, key=token))
        from markupsafe import Markup

        page = self._page(
            "article.html",
            language,
            article=article,
            # desk/portal.py renders it with raw HTML off and only web and mail links.
            body=Markup(article.html),  # nosec B704
            updated=_when(article.updated_at, language),
        )
        return page, f"help article {article.key}"

    def _contact_page(
        self,
        language: str,
        csrf: str,
        *,
        status: int = 200,
        error: str | None = None,
        typed: Mapping[str, str] | None = None,
    ) -> HTMLResponse:
        values = {k: (typed or {}).get(k, "") for k in ("name", "email", "subject", "text")}
        return self._page(
            "contact.html",
            language,
            status,
            csrf=csrf,
            error=error,
            values=values,
            trap=TRAP_FIELD,
            subject_max=SUBJECT_MAX,
            text_max=TEXT_MAX,
        )

    async def _contact(self, request: Request, token: str) -> tuple[Response, str]:
        language = _accept_language(request)
        if request.method != "POST":
            if request.query_params.get("sent"):
                w = words(language)
                page = self._page(
                    "message.html",
                    language,
                    title=w["sent_title"],
                    text=w["sent"].format(hours=CONFIRM_HOURS),
                )
                return page, "contact: sent page"
            csrf = await self._desk(partial(self.desk.write, contact_form_token))
            return self._contact_page(language, csrf), "contact form shown"
        fields = await self._posted_form(request)
        await self._desk(partial(self.desk.read, check_contact_form, csrf=fields.get("csrf_token")))
        sent = self._redirect("/contact?sent=1")
        if fields.get(TRAP_FIELD):
            return sent, Refusal("contact: honeypot (the trap field was filled in), dropped")
        client = request.client.host if request.client else "-"
        if not self.per_client.allow(client):
            return self._message(language, 429, "too_many_title", "too_many"), (
                "contact: too many from this client"
            )
        address = fields.get("email", "").strip().lower()[:320]
        if address and not self.per_address.allow(address):
            return self._message(language, 429, "too_many_title", "too_many"), (
                "contact: too many for this address"
            )
        try:
            done = await self._desk(
                partial(
                    self.desk.write,
                    request_contact,
                    email=fields.get("email", ""),
                    subject=fields.get("subject"),
                    text=fields.get("text"),
                    language=language,
                    base_url=self.base_url or f"http://{self.host}:{self.port}",
                )
            )
        except PortalInputError as exc:
            csrf = await self._desk(partial(self.desk.write, contact_form_token))
            page = self._contact_page(language, csrf, status=400, error=exc.message, typed=fields)
            return page, f"contact: {exc.why}"
        if done.outcome == "queued":
            return sent, f"contact: confirmation queued (request {done.request_id})"
        return sent, "contact: no contact has this address, nothing kept"

    async def _contact_confirm(self, request: Request, token: str) -> tuple[Response, str]:
        done = await self._desk(partial(self.desk.write, confirm_contact, token=token))
        w = words(done.language)
        said = w["confirmed"] if done.opened else w["confirmed_before"]
        page = self._page(
            "confirmed.html",
            done.language,
            title=w["confirmed_title"],
            text=said.format(ref=done.ref),
            case_path=done.case_path,
        )
        return page, f"contact confirmed: {done.ref} {'opened' if done.opened else 'again'}"

    async def _sms(self, request: Request, token: str) -> tuple[Response, str]:
        try:
            try:
                body = await read_body(request, SMS_MAX_BODY)
            except TooLarge:
                raise Refused(413, "body too large") from None
            except ClientDisconnect:
                raise Refused(400, "client went away") from None
            fields = _gateway_fields(request, body)
        except Refused:
            await self._desk(partial(self.desk.read, check_sms_token, secret=token))
            raise
        try:
            done = await self._desk(
                partial(
                    self.desk.write, receive_sms, secret=token, fields=fields, region=self.region
                )
            )
        except InvalidInput as exc:
            answer = JSONResponse({"ok": False, "error": str(exc)}, status_code=400)
            return answer, f"sms: {exc.field}"
        answer = JSONResponse({"ok": True, "outcome": done.outcome, "ref": done.ref})
        return answer, f"sms {done.outcome} {done.ref}"

    async def _posted_form(self, request: Request) -> dict[str, str]:
        """A form of a public page (no case token): from this site, within the limit."""
        self._check_origin(request)
        try:
            body = await read_body(request, self.max_body)
        except TooLarge:
            raise Refused(413, "body too large") from None
        except ClientDisconnect:
            raise Refused(400, "client went away") from None
        return _form(request, body)

    # ------------------------------------------------------------------ plumbing

    @staticmethod
    def _redirect(path: str) -> Response:
        response = RedirectResponse(path, status_code=303)
        response.headers["Cache-Control"] = _CASE_CACHE
        return response

    async def _desk(self, call: Callable[[], Any]) -> Any:
        return await asyncio.to_thread(call)

    async def _posted(self, request: Request, token: str) -> dict[str, str]:
        """The form posted, or a refusal; a token that opens no case is refused first (404),
        so that no other answer tells a live token from a dead one."""
        try:
            self._check_origin(request)
            try:
                body = await read_body(request, self.max_body)
            except TooLarge:
                raise Refused(413, "body too large") from None
            except ClientDisconnect:
                raise Refused(400, "client went away") from None
            return _form(request, body)
        except Refused:
            await self._desk(partial(self.desk.read, check_link, token=token))
            raise

    def _check_origin(self, request: Request) -> None:
        """A form posted from another site is refused, whatever it carries."""
        if request.headers.get("sec-fetch-site", "").lower() == "cross-site":
            raise Refused(403, "posted from another site (Sec-Fetch-Site)")
        origin = request.headers.get("origin")
        if origin is None:
            return
        # Our own Referrer-Policy (no-referrer) makes a browser send "Origin: null" with the
        # forms of our own pages; the browser's own Sec-Fetch-Site then says where it came from.
        if origin == "null" and request.headers.get("sec-fetch-site", "") == "same-origin":
            return
        allowed = {f"{request.url.scheme}://{request.headers.get('host', '')}".lower()}
        if self.base_url:
            parts = urlsplit(self.base_url)
            allowed.add(f"{parts.scheme}://{parts.netloc}".lower())
        if origin.lower() not in allowed:
            raise Refused(403, f"posted from another origin {origin[:100]!r}")

    async def _handle(
        self,
        request: Request,
        handler: Callable[[Request, str], Awaitable[tuple[Response, str]]],
    ) -> Response:
        started = time.perf_counter()
        token = request.path_params.get("token", "")
        language = _accept_language(request)
        try:
            response, said = await handler(request, token)
        except (UnknownCase, UnknownPage) as exc:
            response, said = (
                self._message(language, 404, "not_found_title", "not_found"),
                (f"no case: {exc.why}" if isinstance(exc, UnknownCase) else f"no page: {exc.why}"),
            )
        except UnknownSmsToken:
            response = self._message(language, 404, "not_found_title", "not_found")
            said = "sms: unknown token"
        except CsrfRefused:
            response, said = (
                self._message(language, 403, "forbidden_title", "forbidden"),
                ("csrf_token missing or wrong"),
            )
        except Refused as exc:
            response = self._refused(language, exc.status)
            said = exc.why
        except DatabaseUnavailable as exc:
            response, said = self._message(language, 503, "busy_title", "busy"), str(exc)
        except DeskError as exc:
            # A conflict or a step the case no longer allows (it changed meanwhile).
            response = self._message(language, 409, "error_title", "conflict")
            said = f"{type(exc).__name__}: {exc}"
        except Exception as exc:
            # A bug: the visitor gets our page, the log the whole story (never the token).
            log.exception("failed: %s on %s", type(exc).__name__, _redacted(request.url.path))
            response = self._message(language, 500, "error_title", "busy")
            said = f"{type(exc).__name__} (see the traceback above)"
        self._log(request, started, response.status_code, said)
        return response

    def _refused(self, language: str, status: int) -> Response:
        if status == 429:
            return self._message(language, 429, "too_many_title", "too_many")
        if status == 413:
            return self._message(language, 413, "too_large_title", "too_large")
        if status == 403:
            return self._message(language, 403, "forbidden_title", "forbidden")
        return self._message(language, status, "error_title", "forbidden")

    async def _http_error(self, request: Request, exc: HTTPException) -> Response:
        """An unknown path (404), a wrong method (405): the same page as a dead link."""
        started = time.perf_counter()
        language = _accept_language(request)
        status = exc.status_code if exc.status_code in (404, 405) else 404
        response = self._message(language, status, "not_found_title", "not_found")
        if status == 405:
            response.headers["Allow"] = exc.headers.get("Allow", "") if exc.headers else ""
        self._log(request, started, status, "no such page")
        return response

    @staticmethod
    def _log(request: Request, started: float, status: int, said: str) -> None:
        """One line per request: ``CLIENT METHOD ROUTE STATUS [OUTCOME: ]WHAT (MS ms)``, its
        parts also on the record as ``web`` (for a JSON formatter or a test). A refusal
        (any 4xx, and :class:`Refusal`) is a warning, a failure (5xx) an error."""
        ms = (time.perf_counter() - started) * 1000
        client = request.client.host if request.client else "-"
        route = _redacted(request.url.path)
        if status >= 500:
            outcome, level = "failed", logging.ERROR
        elif status >= 400 or isinstance(said, Refusal):
            outcome, level = "refused", logging.WARNING
        else:
            outcome, level = "ok", logging.INFO
        fields = {
            "outcome": outcome,
            "client": client,
            "method": request.method,
            "route": route,
            "status": status,
            "reason": str(said),
            "ms": round(ms, 1),
        }
        log.log(
            level,
            "%s %s %s %d %s%s (%.1f ms)",
            client,
            request.method,
            route,
            status,
            "" if outcome == "ok" else f"{outcome}: ",
            said,
            ms,
            extra={"web": fields},
        )


def _redacted(path: str) -> str:
    """A path as the log writes it: the token of ``/case/TOKEN/...``, ``/survey/TOKEN``,
    ``/sms/TOKEN`` and ``/contact/confirm/TOKEN`` left out."""
    parts = path.split("/")
    if len(parts) >= 3 and parts[1] in ("case", "survey", "sms"):
        parts[2] = "…"
    if len(parts) >= 4 and parts[1:3] == ["contact", "confirm"]:
        parts[3] = "…"
    return "/".join(parts)[:200]


def _gateway_fields(request: Request, body: bytes) -> dict[str, object]:
    """What an SMS gateway posted, as a form or as a JSON object of plain values."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        return dict(_form(request, body))
    if kind != "application/json" and not kind.endswith("+json"):
        raise Refused(415, f"content type {kind!r} is neither a form nor JSON")
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise Refused(400, "the body is not JSON") from None
    if not isinstance(data, dict) or len(data) > _MAX_FIELDS:
        raise Refused(400, "the JSON is not an object of a few fields")
    return {
        str(k): v for k, v in data.items() if isinstance(v, str | int) and not isinstance(v, bool)
    }
