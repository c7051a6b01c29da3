"""How the desk reaches customers and reads their mail: SMTP, an SMS gateway, IMAP.

Settings come from the ``[smtp]``, ``[sms]``, ``[imap]``, ``[mail]`` and ``[outbox]`` tables
of the config file (``deskterm.toml`` in the config folder, or ``DESKTERM_CONFIG_FILE``),
and ``DESKTERM_<TABLE>_<KEY>`` environment variables win over the file, so a secret can stay
out of it. Nothing is read at import time.

The transports raise ``DeliveryError``; ``permanent`` says whether trying again later could
help (a refused address will not; a server that is down may).
"""

from __future__ import annotations

import base64
import os
import smtplib
import ssl
import tomllib
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from deskterm.domain.errors import InvalidInput

#: Seconds to wait for a mail server or SMS gateway before counting the try as failed.
NETWORK_TIMEOUT = 30.0

_TLS_MODES = {
    "starttls": "starttls",
    "tls": "tls",
    "ssl": "tls",
    "implicit": "tls",
    "none": "none",
    "off": "none",
    "plain": "none",
    "false": "none",
    "no": "none",
}


class DeliveryError(Exception):
    """A message could not be handed over; ``str()`` is the reason in one line."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.permanent = permanent


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    tls: str
    from_address: str
    user: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def domain(self) -> str:
        """The right-hand side of our Message-IDs: the domain we send from."""
        address = parseaddr(self.from_address)[1]
        return address.rpartition("@")[2] or "deskterm.invalid"

    @property
    def address(self) -> str:
        return parseaddr(self.from_address)[1].lower()


@dataclass(frozen=True)
class ImapConfig:
    host: str
    port: int
    tls: str
    user: str
    password: str = field(repr=False)
    folder: str = "INBOX"


@dataclass(frozen=True)
class SmsConfig:
    """An HTTP gateway: ``url`` and ``body`` are templates with ``{to}``, ``{text}``,
    ``{ref}`` and ``{id}``, URL-encoded where they are put."""

    url: str
    method: str = "POST"
    body: str | None = "to={to}&text={text}"
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class CommsConfig:
    smtp: SmtpConfig | None = None
    sms: SmsConfig | None = None
    imap: ImapConfig | None = None
    #: The group whose queue tickets opened from mail land in (default: the first level-1).
    mail_group: str | None = None
    max_attempts: int = 5
    source: str = "defaults"

    @property
    def own_addresses(self) -> frozenset[str]:
        """Addresses this desk sends from: mail from them is never a customer's."""
        return frozenset({self.smtp.address} if self.smtp and self.smtp.address else set())


def config_file() -> Path:
    override = os.environ.get("DESKTERM_CONFIG_FILE")
    if override:
        return Path(override).expanduser()
    from deskterm.paths import config_dir

    return config_dir() / "deskterm.toml"


def load_config(environ: Mapping[str, str] | None = None, path: Path | None = None) -> CommsConfig:
    """The settings in force: the config file's tables, then ``DESKTERM_*`` over them."""
    env = os.environ if environ is None else environ
    path = path or config_file()
    data: dict[str, Any] = {}
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
            raise InvalidInput(f"{path}: {exc}", field="config") from None

    def section(name: str) -> dict[str, Any]:
        table = data.get(name, {})
        if not isinstance(table, dict):
            raise InvalidInput(f"{path}: [{name}] must be a table", field="config")
        values = {str(k).lower(): v for k, v in table.items()}
        prefix = f"DESKTERM_{name.upper()}_"
        for key, value in env.items():
            if key.upper().startswith(prefix) and value != "":
                values[key[len(prefix) :].lower()] = value
        return values

    smtp = _smtp(section("smtp"))
    outbox = section("outbox")
    mail = section("mail")
    return CommsConfig(
        smtp=smtp,
        sms=_sms(section("sms")),
        imap=_imap(section("imap")),
        mail_group=_text(mail.get("group")),
        max_attempts=_int(outbox.get("max_attempts", 5), "DESKTERM_OUTBOX_MAX_ATTEMPTS", 1, 100),
        source=str(path) if path.is_file() else "environment",
    )


def _text(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def _int(value: Any, name: str, low: int, high: int) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise InvalidInput(f"{name}: {value!r} is not a number", field=name) from None
    if not low <= number <= high:
        raise InvalidInput(f"{name}: {number} is not between {low} and {high}", field=name)
    return number


def _tls(value: Any, name: str, default: str) -> str:
    key = (_text(value) or default).lower()
    if key not in _TLS_MODES:
        raise InvalidInput(f"{name}: {value!r} is not one of starttls, tls, none", field=name)
    return _TLS_MODES[key]


def _smtp(values: dict[str, Any]) -> SmtpConfig | None:
    host = _text(values.get("host"))
    if host is None:
        return None
    port_given = values.get("port")
    tls = _tls(
        values.get("tls"),
        "DESKTERM_SMTP_TLS",
        "tls" if str(port_given).strip() == "465" else "starttls",
    )
    default_port = {"tls": 465, "starttls": 587, "none": 25}[tls]
    port = _int(port_given, "DESKTERM_SMTP_PORT", 1, 65535) if port_given else default_port
    sender = _text(values.get("from")) or _text(values.get("from_address"))
    if sender is None or "@" not in parseaddr(sender)[1]:
        raise InvalidInput(
            "DESKTERM_SMTP_FROM: give the address customers get mail from, e.g. "
            "'Help Desk <help@example.com>'",
            field="DESKTERM_SMTP_FROM",
        )
    return SmtpConfig(
        host=host,
        port=port,
        tls=tls,
        from_address=sender,
        user=_text(values.get("user")),
        password=_text(values.get("password")),
    )


def _imap(values: dict[str, Any]) -> ImapConfig | None:
    host = _text(values.get("host"))
    if host is None:
        return None
    port_given = values.get("port")
    tls = _tls(values.get("tls"), "DESKTERM_IMAP_TLS", "tls")
    default_port = {"tls": 993, "starttls": 143, "none": 143}[tls]
    port = _int(port_given, "DESKTERM_IMAP_PORT", 1, 65535) if port_given else default_port
    user, password = _text(values.get("user")), _text(values.get("password"))
    if user is None or password is None:
        raise InvalidInput(
            "IMAP needs DESKTERM_IMAP_USER and DESKTERM_IMAP_PASSWORD", field="DESKTERM_IMAP_USER"
        )
    return ImapConfig(
        host=host,
        port=port,
        tls=tls,
        user=user,
        password=password,
        folder=_text(values.get("folder")) or "INBOX",
    )


def _sms(values: dict[str, Any]) -> SmsConfig | None:
    url = _text(values.get("url"))
    if url is None:
        return None
    if not url.lower().startswith(("http://", "https://")):
        raise InvalidInput("DESKTERM_SMS_URL must be an http:// or https:// URL", field="sms")
    method = (_text(values.get("method")) or "POST").upper()
    if method not in ("GET", "POST"):
        raise InvalidInput("DESKTERM_SMS_METHOD must be GET or POST", field="sms")
    body = _text(values.get("body"))
    return SmsConfig(
        url=url,
        method=method,
        body=(body or "to={to}&text={text}") if method == "POST" else None,
        user=_text(values.get("user")),
        password=_text(values.get("password")),
        token=_text(values.get("token")),
    )


# --------------------------------------------------------------------------- email


class EmailTransport:
    """One SMTP connection, opened at the first message and reused until ``close()``."""

    def __init__(self, config: SmtpConfig, *, timeout: float = NETWORK_TIMEOUT) -> None:
        self.config = config
        self.timeout = timeout
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        c = self.config
        context = ssl.create_default_context()
        try:
            if c.tls == "tls":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    c.host, c.port, timeout=self.timeout, context=context
                )
            else:
                smtp = smtplib.SMTP(c.host, c.port, timeout=self.timeout)
                if c.tls == "starttls":
                    smtp.starttls(context=context)
            if c.user:
                smtp.login(c.user, c.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            # Retried: the login is fixed in the config, and the queue goes out then.
            raise DeliveryError(f"SMTP login refused: {_smtp_reply(exc)}") from exc
        except (OSError, smtplib.SMTPException, ssl.SSLError) as exc:
            raise DeliveryError(f"cannot reach SMTP server {c.host}:{c.port}: {exc}") from exc
        return smtp

    def send(self, message: EmailMessage, *, to_addrs: Sequence[str]) -> None:
        if self._smtp is None:
            self._smtp = self._connect()
        try:
            # The envelope as given: smtplib would otherwise read it from To/Cc/Bcc.
            refused = self._smtp.send_message(message, to_addrs=list(to_addrs))
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            said = "; ".join(
                f"{addr}: {code} {_decode(text)}" for addr, (code, text) in exc.recipients.items()
            )
            raise DeliveryError(
                f"recipient refused: {said}", permanent=all(c >= 500 for c in codes)
            ) from exc
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            raise DeliveryError(
                f"SMTP server refused the message: {_smtp_reply(exc)}",
                permanent=exc.smtp_code >= 500,
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:
            self._drop()
            raise DeliveryError(f"SMTP connection failed: {exc}") from exc
        if refused:
            said = "; ".join(f"{a}: {c} {_decode(t)}" for a, (c, t) in refused.items())
            raise DeliveryError(f"recipient refused: {said}", permanent=True)

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.close()
            except OSError:
                pass

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()


def _decode(text: bytes | str) -> str:
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)


def _smtp_reply(exc: Any) -> str:
    code = getattr(exc, "smtp_code", "")
    said = _decode(getattr(exc, "smtp_error", b"") or str(exc))
    return " ".join(f"{code} {said}".split())


# --------------------------------------------------------------------------- SMS


class SmsTransport:
    """An HTTP SMS gateway. 2xx is delivered; 4xx (but 408 and 429) will not get better."""

    def __init__(self, config: SmsConfig, *, timeout: float = NETWORK_TIMEOUT) -> None:
        self.config = config
        self.timeout = timeout

    def send(self, *, to: str, text: str, ref: str, message_id: str) -> None:
        c = self.config
        fields = {"to": to, "text": text, "ref": ref, "id": message_id}
        url = _fill(c.url, {k: urllib.parse.quote(v, safe="") for k, v in fields.items()})
        data = None
        headers = {"Idempotency-Key": message_id, "User-Agent": "deskterm"}
        if c.method == "POST" and c.body:
            data = _fill(c.body, {k: urllib.parse.quote_plus(v) for k, v in fields.items()})
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if c.token:
            headers["Authorization"] = f"Bearer {c.token}"
        elif c.user:
            pair = f"{c.user}:{c.password or ''}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        request = urllib.request.Request(
            url,
            data=data.encode("utf-8") if data is not None else None,
            headers=headers,
            method=c.method,
        )
        try:
            # The URL is the admin's SMS gateway, checked to be http(s) when configured.
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # nosec B310
                response.read(4096)
        except urllib.error.HTTPError as exc:
            detail = exc.read(300).decode("utf-8", "replace") if exc.fp else ""
            raise DeliveryError(
                f"SMS gateway answered {exc.code} {exc.reason}: {' '.join(detail.split())}".strip(),
                permanent=400 <= exc.code < 500 and exc.code not in (408, 429),
            ) from exc
        except (TimeoutError, urllib.error.URLError, OSError) as exc:
            raise DeliveryError(f"cannot reach SMS gateway: {exc}") from exc

    def close(self) -> None:
        return None


def _fill(template: str, values: Mapping[str, str]) -> str:
    try:
        return template.format_map(dict(values))
    except (KeyError, ValueError, IndexError) as exc:
        raise DeliveryError(
            f"SMS gateway template {template!r} is broken ({exc}); use {{to}}, {{text}}, "
            "{ref} and {id}",
            permanent=True,
        ) from None
