"""Real servers on loopback for the communication tests: SMTP (aiosmtpd), an SMS gateway
(http.server) and a small IMAP server speaking the part of IMAP4rev1 that ``imaplib`` uses.

Each binds 127.0.0.1 on a port the kernel picks and stops with its fixture.
"""

from __future__ import annotations

import email
import email.policy
import socket
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from deskterm.desk.channels import EmailTransport, SmsConfig, SmsTransport, SmtpConfig
from deskterm.desk.outbox import Senders

FROM = "Help Desk <help@desk.example>"


def flat(text: str) -> str:
    """Printed text with its wrapping undone: a narrow terminal must not hide a word."""
    return " ".join(text.split())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --------------------------------------------------------------------------- SMTP


@dataclass
class Arrived:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def body(self) -> str:
        part = self.message.get_body(("plain",))
        assert part is not None
        return part.get_content()


@dataclass
class SmtpServer:
    port: int
    arrived: list[Arrived] = field(default_factory=list)
    #: SMTP replies to give to the next messages instead of accepting them, e.g. "451 busy".
    refuse: list[str] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, _o: Any):
        if address.endswith("@nowhere.example"):
            return "550 5.1.1 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse:
            return self.refuse.pop(0)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.arrived.append(Arrived(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 OK queued"

    def config(self, **changes: Any) -> SmtpConfig:
        values: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": self.port,
            "tls": "none",
            "from_address": FROM,
        }
        values.update(changes)
        return SmtpConfig(**values)


@contextmanager
def smtp_server(*, password: str | None = None) -> Iterator[SmtpServer]:
    """aiosmtpd on loopback; with ``password``, logins are required (over plain text, as
    only a test may)."""
    state = SmtpServer(port=free_port())
    options: dict[str, Any] = {}
    if password is not None:

        def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth: Any):
            ok = auth.password.decode() == password
            if ok:
                state.logins.append(auth.login.decode())
            return AuthResult(success=ok, handled=False)

        options = {"authenticator": authenticate, "auth_require_tls": False}
    controller = Controller(state, hostname="127.0.0.1", port=state.port, **options)
    controller.start()
    try:
        yield state
    finally:
        controller.stop()


def email_senders(server: SmtpServer, **changes: Any) -> Senders:
    config = server.config(**changes)
    return Senders(
        email=EmailTransport(config, timeout=5),
        from_address=config.from_address,
        domain=config.domain,
    )


# --------------------------------------------------------------------------- SMS


@dataclass
class SmsGateway:
    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    #: Status codes for the next requests (then 200).
    answers: list[int] = field(default_factory=list)

    def senders(self, **changes: Any) -> Senders:
        values: dict[str, Any] = {"url": self.url + "/send?ref={ref}", "token": "s3cret"}
        values.update(changes)
        return Senders(sms=SmsTransport(SmsConfig(**values), timeout=5), domain="desk.example")


@contextmanager
def sms_gateway() -> Iterator[SmsGateway]:
    gateway = SmsGateway(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode()
            gateway.requests.append(
                {
                    "path": urlsplit(self.path).path,
                    "query": parse_qs(urlsplit(self.path).query),
                    "form": parse_qs(body),
                    "headers": dict(self.headers),
                }
            )
            code = gateway.answers.pop(0) if gateway.answers else 200
            self.send_response(code)
            self.end_headers()
            self.wfile.write(b"accepted" if code < 300 else b"number not allowed")

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    gateway.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield gateway
    finally:
        server.shutdown()
        server.server_close()


# --------------------------------------------------------------------------- IMAP


@dataclass
class Mailbox:
    user: str = "desk"
    password: str = "pw"
    #: uid -> (raw message, seen)
    messages: dict[int, list[Any]] = field(default_factory=dict)
    #: uids the server answers FETCH for with nothing.
    silent: set[int] = field(default_factory=set)
    port: int = 0

    def add(self, raw: bytes, *, seen: bool = False) -> int:
        uid = max(self.messages, default=100) + 1
        self.messages[uid] = [raw, seen]
        return uid

    def unseen(self) -> list[int]:
        return [uid for uid, (_raw, seen) in self.messages.items() if not seen]


@contextmanager
def imap_server(box: Mailbox) -> Iterator[Mailbox]:
    class Handler(socketserver.StreamRequestHandler):
        def send(self, line: bytes) -> None:
            self.wfile.write(line + b"\r\n")

        def handle(self) -> None:
            self.send(b"* OK [CAPABILITY IMAP4rev1] fake IMAP ready")
            while True:
                line = self.rfile.readline()
                if not line:
                    return
                tag, _, rest = line.rstrip(b"\r\n").partition(b" ")
                command, _, args = rest.partition(b" ")
                if not self.answer(tag, command.upper(), args):
                    return

        def answer(self, tag: bytes, command: bytes, args: bytes) -> bool:
            if command == b"CAPABILITY":
                self.send(b"* CAPABILITY IMAP4rev1")
            elif command == b"LOGIN":
                user, password = (a.strip(b'"') for a in args.split(b" ", 1))
                if (user.decode(), password.decode()) != (box.user, box.password):
                    self.send(tag + b" NO [AUTHENTICATIONFAILED] Invalid credentials")
                    return True
            elif command == b"SELECT":
                self.send(b"* %d EXISTS" % len(box.messages))
                self.send(tag + b" OK [READ-WRITE] SELECT completed")
                return True
            elif command == b"UID":
                return self.uid(tag, args)
            elif command == b"LOGOUT":
                self.send(b"* BYE logging out")
                self.send(tag + b" OK LOGOUT completed")
                return False
            self.send(tag + b" OK " + command + b" completed")
            return True

        def uid(self, tag: bytes, args: bytes) -> bool:
            sub, _, rest = args.partition(b" ")
            sub = sub.upper()
            if sub == b"SEARCH":
                found = b" ".join(str(u).encode() for u in box.unseen())
                self.send(b"* SEARCH " + found if found else b"* SEARCH")
            elif sub == b"FETCH":
                uid = int(rest.split(b" ", 1)[0])
                if uid in box.messages and uid not in box.silent:
                    raw = box.messages[uid][0]
                    number = list(box.messages).index(uid) + 1
                    self.wfile.write(
                        b"* %d FETCH (UID %d BODY[] {%d}\r\n" % (number, uid, len(raw))
                        + raw
                        + b")\r\n"
                    )
            elif sub == b"STORE":
                uid = int(rest.split(b" ", 1)[0])
                if b"\\Seen" in rest and uid in box.messages:
                    box.messages[uid][1] = True
                    number = list(box.messages).index(uid) + 1
                    self.send(b"* %d FETCH (UID %d FLAGS (\\Seen))" % (number, uid))
            self.send(tag + b" OK UID " + sub + b" completed")
            return True

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    box.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield box
    finally:
        server.shutdown()
        server.server_close()
