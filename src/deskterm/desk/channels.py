"""How the desk reaches customers and reads their mail: SMTP, an SMS gateway, IMAP.

Settings are the ``[smtp]``, ``[sms]``, ``[imap]``, ``[mail]`` and ``[outbox]`` tables of
the settings (``deskterm.config``: the config file, ``DESKTERM_<TABLE>_<KEY>`` winning over
it); ``load_config()`` is the desk's view of them. Nothing is read at import time.

The transports raise ``DeliveryError``; ``permanent`` says whether trying again later could
help (a refused address will not; a server that is down may).
"""

from __future__ import annotations

import base64
import smtplib
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deskterm.domain.errors import InvalidInput
from deskterm.i18n import _

if TYPE_CHECKING:
    from pydantic import SecretStr

    from deskterm.config import ImapSettings, SmsSettings, SmtpSettings

#: Seconds to wait for a mail server or SMS gateway before counting the try as failed.
NETWORK_TIMEOUT = 30.0


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
    #: ``[web] base_url``: where customers reach their case page; the links messages carry.
    base_url: str | None = None

    @property
    def own_addresses(self) -> frozenset[str]:
        """Addresses this desk sends from: mail from them is never a customer's."""
        return frozenset({self.smtp.address} if self.smtp and self.smtp.address else set())


def load_config(environ: Mapping[str, str] | None = None, path: Path | None = None) -> CommsConfig:
    """The channels as the settings in force describe them (``deskterm.config``): what each
    table needs besides its own keys (SMTP a sender, IMAP a login) is checked here.

    ``environ`` and ``path`` are as for ``load_settings``."""
    from deskterm.config import config_path, load_settings

    settings = load_settings(environ, path)
    path = path or config_path(environ)
    return CommsConfig(
        smtp=_smtp(settings.smtp),
        sms=_sms(settings.sms),
        imap=_imap(settings.imap),
        mail_group=settings.mail.group,
        max_attempts=settings.outbox.max_attempts,
        source=str(path) if path.is_file() else "environment",
        base_url=settings.web.base_url.rstrip("/") if settings.web.base_url else None,
    )


def _reveal(secret: SecretStr | None) -> str | None:
    # The one place a configured secret is unwrapped: the transports need the text, and
    # their configs keep it out of repr().
    return secret.get_secret_value() if secret is not None else None


def _smtp(values: SmtpSettings) -> SmtpConfig | None:
    if values.host is None:
        return None
    tls = values.tls or ("tls" if values.port == 465 else "starttls")
    default_port = {"tls": 465, "starttls": 587, "none": 25}[tls]
    sender = values.sender or values.from_address
    if sender is None or "@" not in parseaddr(sender)[1]:
        raise InvalidInput(
            _(
                "DESKTERM_SMTP_FROM: give the address customers get mail from, e.g. "
                "'Help Desk <help@example.com>'"
            ),
            field="DESKTERM_SMTP_FROM",
        )
    return SmtpConfig(
        host=values.host,
        port=values.port or default_port,
        tls=tls,
        from_address=sender,
        user=values.user,
        password=_reveal(values.password),
    )


def _imap(values: ImapSettings) -> ImapConfig | None:
    if values.host is None:
        return None
    tls = values.tls or "tls"
    default_port = {"tls": 993, "starttls": 143, "none": 143}[tls]
    password = _reveal(values.password)
    if values.user is None or password is None:
        raise InvalidInput(
            _("IMAP needs DESKTERM_IMAP_USER and DESKTERM_IMAP_PASSWORD"),
            field="DESKTERM_IMAP_USER",
        )
    return ImapConfig(
        host=values.host,
        port=values.port or default_port,
        tls=tls,
        user=values.user,
        password=password,
        folder=values.folder or "INBOX",
    )


def _sms(values: SmsSettings) -> SmsConfig | None:
    if values.url is None:
        return None
    method = values.method or "POST"
    return SmsConfig(
        url=values.url,
        method=method,
        body=(values.body or "to={to}&text={text}") if method == "POST" else None,
        user=values.user,
        password=_reveal(values.password),
        token=_reveal(values.token),
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
            codes = [code for code, _reason in exc.recipients.values()]
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
