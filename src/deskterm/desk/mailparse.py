"""Reading real-world mail into plain, clean parts: sender, subject, text, attachments.

Pure: bytes in, a ``ParsedMail`` out (or ``Unreadable`` with the reason). Real mail is
messy: raw 8-bit headers, unknown or wrong charsets, HTML-only bodies, screenshots pasted
into Outlook (images under the HTML alternative), broken base64, missing headers. Each part
is read on its own, so one bad part costs that part's text, never the message. Everything
that came from outside leaves here through ``domain.text`` cleaning.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import mimetypes
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.utils import getaddresses
from typing import Any

from deskterm.domain.errors import InvalidInput
from deskterm.domain.text import SUBJECT_MAX, clean_line, clean_long, email_address

#: Longest body kept as text; a longer one is cut, and the whole message attached.
BODY_MAX = 60_000
_MAX_DEPTH = 20
_MAX_PARTS = 500
_MSGID = re.compile(r"<[^<>\s]{1,490}>")
_BOUNCE_SENDERS = ("mailer-daemon", "postmaster")
_BOUNCE_NAMES = ("mail delivery subsystem", "mail delivery system", "mail delivery service")


class Unreadable(Exception):
    """The bytes are not a mail message we can read; ``str()`` says why."""


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    content: bytes

    @property
    def size(self) -> int:
        return len(self.content)


@dataclass
class ParsedMail:
    dedup_key: str
    message_id: str | None
    from_address: str | None
    from_name: str | None
    subject: str
    sent_at: datetime | None
    thread_ids: list[str]
    body: str
    attachments: list[Attachment] = field(default_factory=list)
    #: Why no one should answer this (auto-reply, bounce, list mail), or None.
    automatic: str | None = None
    bounce: bool = False
    language: str | None = None
    from_this_desk: bool = False


def parse_mail(raw: bytes) -> ParsedMail:
    if not raw or not raw.strip():
        raise Unreadable("the file is empty")
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
    except Exception as exc:  # the parser is lenient; this is bytes it cannot even split
        raise Unreadable(f"not a mail message ({type(exc).__name__}: {exc})") from None
    if not msg.keys():
        raise Unreadable("no mail headers: this is not an email message")
    assert isinstance(msg, EmailMessage)

    message_id = _first_id(header(msg, "Message-ID"))
    if message_id is None and header(msg, "Message-ID"):
        message_id = clean_line(header(msg, "Message-ID"))[:490] or None
    name, address = _sender(msg)
    subject = _subject(header(msg, "Subject"))
    body_parts: list[str] = []
    attachments: list[Attachment] = []
    _walk(msg, body_parts, attachments, depth=0, counter=[0])
    body = clean_long("\n\n".join(p for p in body_parts if p.strip()))
    if len(body) > BODY_MAX:
        cut = len(body) - BODY_MAX
        body = f"{body[:BODY_MAX]}\n\n[… {cut:,} more characters: see original-message.eml]"
        attachments.append(Attachment("original-message.eml", "message/rfc822", raw))
    automatic, bounce = _automatic(msg, address, name)
    return ParsedMail(
        dedup_key=f"id:{message_id}" if message_id else f"sha256:{hashlib.sha256(raw).hexdigest()}",
        message_id=message_id,
        from_address=address,
        from_name=name,
        subject=subject,
        sent_at=_date(msg),
        thread_ids=_thread(msg),
        body=body,
        attachments=attachments,
        automatic=automatic,
        bounce=bounce,
        language=_language(header(msg, "Content-Language")),
        from_this_desk=bool(header(msg, "X-Deskterm-Ticket")),
    )


# --------------------------------------------------------------------------- headers


def header(msg: Message, name: str) -> str:
    """A header's text, decoded however it was written; ``""`` when absent."""
    raw = _raw(msg, name)
    if raw is None:
        return ""
    try:
        value = str(msg[name])
    except Exception:  # a header the registry cannot parse at all
        value = _decode_raw(raw)
    if _damaged(value):
        value = _decode_raw(raw)
    return _no_surrogates(value)


def _raw(msg: Message, name: str) -> str | None:
    wanted = name.lower()
    for key, value in msg.raw_items():
        if key.lower() == wanted:
            return str(value)
    return None


def _damaged(text: str) -> bool:
    return "\ufffd" in text or any("\udc80" <= ch <= "\udcff" for ch in text)


def _decode_raw(raw: str) -> str:
    """Raw 8-bit header bytes (UTF-8, else Windows-1252) and RFC 2047 words, best effort."""
    data = raw.encode("ascii", "surrogateescape")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("cp1252", "replace")
    if "=?" in text:
        try:
            text = str(make_header(decode_header(text)))
        except (LookupError, UnicodeError, ValueError, email.errors.HeaderParseError):
            pass
    return text


def _no_surrogates(text: str) -> str:
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _first_id(text: str) -> str | None:
    match = _MSGID.search(text or "")
    return match[0] if match else None


def _thread(msg: Message) -> list[str]:
    ids: list[str] = []
    for name in ("In-Reply-To", "References"):
        for found in _MSGID.findall(header(msg, name)):
            if found not in ids:
                ids.append(found)
    return ids[:100]


def _sender(msg: Message) -> tuple[str | None, str | None]:
    """The sender's display name and address (From, else Sender, else Reply-To)."""
    for name in ("From", "Sender", "Reply-To"):
        text = header(msg, name)
        for display, addr in getaddresses([text]):
            try:
                address = email_address(addr)
            except InvalidInput:
                continue
            if address:
                # An encoded word that would not decode is noise, not a name.
                name = clean_line(display)[:200]
                return (None if "=?" in name else name or None), address
    return None, None


def _subject(text: str) -> str:
    subject = clean_line(text)
    if len(subject) > SUBJECT_MAX:
        subject = subject[: SUBJECT_MAX - 1] + "…"
    return subject


def _date(msg: Message) -> datetime | None:
    try:
        value = msg["Date"]
        stamp = getattr(value, "datetime", None)
    except Exception:
        return None
    if not isinstance(stamp, datetime):
        return None
    stamp = stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
    if not 1990 <= stamp.year <= 2200:
        return None
    return stamp.astimezone(UTC)


def _language(text: str) -> str | None:
    first = clean_line(text).split(",")[0].strip().lower()
    match = re.match(r"^([a-z]{2,3})\b", first)
    return match[1] if match else None


def _automatic(msg: Message, address: str | None, name: str | None) -> tuple[str | None, bool]:
    """Why this mail must not be answered (so no loop can start), and whether it bounced."""
    content_type = msg.get_content_type()
    local = (address or "").partition("@")[0]
    if content_type == "multipart/report" or local in _BOUNCE_SENDERS:
        return f"delivery report (bounce) from {address or 'the mail system'}", True
    if (name or "").lower() in _BOUNCE_NAMES:
        return f"delivery report (bounce) from {name}", True
    auto = header(msg, "Auto-Submitted").strip().lower()
    if auto and auto != "no":
        return f"automatic message (Auto-Submitted: {auto[:40]})", False
    precedence = header(msg, "Precedence").strip().lower()
    if precedence in ("bulk", "junk", "list", "auto_reply"):
        return f"bulk mail (Precedence: {precedence})", False
    for flag in ("X-Autoreply", "X-Autorespond", "X-Auto-Reply"):
        if header(msg, flag):
            return f"automatic reply ({flag})", False
    if header(msg, "List-Id") or header(msg, "List-Unsubscribe"):
        return "mailing-list mail (List-Id)", False
    if header(msg, "Return-Path").strip() == "<>":
        return "automatic message (empty return path)", True
    return None, False


# --------------------------------------------------------------------------- body and files


def _walk(
    part: Message,
    body: list[str],
    files: list[Attachment],
    *,
    depth: int,
    counter: list[int],
    text_wanted: bool = True,
) -> None:
    """Collect the readable text and the files of ``part``.

    ``text_wanted`` is false inside an alternative that was not chosen: its text repeats the
    chosen one, but its images (Outlook's pasted screenshots) are the customer's and kept.
    """
    counter[0] += 1
    if depth > _MAX_DEPTH or counter[0] > _MAX_PARTS:
        return
    content_type = _content_type(part)
    if content_type == "message/rfc822":
        files.append(_forwarded(part, len(files)))
        return
    if part.is_multipart():
        children = _children(part)
        if content_type == "multipart/alternative" and text_wanted:
            chosen = _best_alternative(children)
            for child in children:
                _walk(
                    child,
                    body,
                    files,
                    depth=depth + 1,
                    counter=counter,
                    text_wanted=child is chosen,
                )
            return
        for child in children:
            _walk(child, body, files, depth=depth + 1, counter=counter, text_wanted=text_wanted)
        return
    filename = _filename(part)
    disposition = _disposition(part)
    if (
        content_type in ("text/plain", "text/html")
        and filename is None
        and disposition != ("attachment")
    ):
        if text_wanted:
            text = part_text(part)
            body.append(html_to_text(text) if content_type == "text/html" else text)
        return
    payload = _payload(part)
    if not payload and filename is None:
        return
    files.append(
        Attachment(
            filename=filename or _made_name(content_type, len(files) + 1),
            content_type=content_type,
            content=payload,
        )
    )


def _children(part: Message) -> list[Message]:
    payload = part.get_payload()
    return [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else []


def _best_alternative(children: list[Message]) -> Message | None:
    """Plain text if it says anything, else HTML, else the last (richest) alternative."""
    by_type = {_content_type(c): c for c in children}
    plain = by_type.get("text/plain")
    if plain is not None and part_text(plain).strip():
        return plain
    for child in children:
        if _content_type(child) == "text/html":
            return child
        if child.is_multipart() and any(
            _content_type(leaf) == "text/html" for leaf in child.walk()
        ):
            return child
    return children[-1] if children else None


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type().lower()
    except Exception:
        return "application/octet-stream"


def _disposition(part: Message) -> str | None:
    try:
        return part.get_content_disposition()
    except Exception:
        return None


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:
        name = None
    if not name:
        return None
    name = _no_surrogates(str(name))
    if "=?" in name:
        try:
            name = str(make_header(decode_header(name)))
        except (LookupError, UnicodeError, ValueError, email.errors.HeaderParseError):
            pass
    # A name is a name, never a path: "../../etc/passwd" is kept as "passwd".
    name = clean_line(re.split(r"[/\\]", name)[-1]).strip(". ")
    if not name:
        return None
    if len(name) > 200:
        stem, dot, ext = name.rpartition(".")
        name = (stem[:190] + dot + ext[:9]) if dot and len(ext) < 10 else name[:200]
    return name


def _made_name(content_type: str, number: int) -> str:
    extension = mimetypes.guess_extension(content_type) or ".bin"
    stem = content_type.partition("/")[0] if content_type.startswith("image/") else "part"
    return f"{stem}-{number}{extension}"


def _payload(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if isinstance(data, bytes):
        return data
    raw = part.get_payload()
    if isinstance(raw, str):
        return raw.encode("utf-8", "surrogateescape")
    return b""


def _forwarded(part: Message, count: int) -> Attachment:
    inner = _children(part)
    try:
        data = inner[0].as_bytes() if inner else part.as_bytes()
    except Exception:
        data = str(part).encode("utf-8", "surrogateescape")
    subject = clean_line(header(inner[0], "Subject")) if inner else ""
    stem = re.sub(r"[^\w\- ]+", "", subject)[:60].strip() or f"message-{count + 1}"
    return Attachment(f"{stem}.eml", "message/rfc822", data)


def part_text(part: Message) -> str:
    """A text part's words, whatever charset it claims or really uses."""
    data = _payload(part)
    declared = None
    # A charset header too broken to read counts as none: the next guess is tried.
    try:
        declared = part.get_content_charset()
    except Exception:  # nosec B110
        pass
    for charset in (declared, "utf-8"):
        if not charset:
            continue
        try:
            return data.decode(charset)
        except (LookupError, UnicodeDecodeError):
            continue
    from charset_normalizer import from_bytes

    guess = from_bytes(data).best()
    if guess is not None:
        return str(guess)
    return data.decode("cp1252", "replace")


def html_to_text(html: str) -> str:
    """HTML as readable text: paragraphs, lists and tables kept, scripts and styles gone."""
    if not html.strip():
        return ""
    try:
        from inscriptis import get_text

        return get_text(html)
    except Exception:
        import html as html_lib

        stripped = re.sub(r"(?is)<(script|style|head).*?</\1>", " ", html)
        stripped = re.sub(r"(?i)<br\s*/?>|</p>|</div>|</li>|</tr>", "\n", stripped)
        return html_lib.unescape(re.sub(r"<[^>]+>", " ", stripped))


def describe_size(size: int) -> str:
    units: list[tuple[int, str]] = [(1 << 20, "MB"), (1 << 10, "KB")]
    for factor, unit in units:
        if size >= factor:
            return f"{size / factor:.1f} {unit}"
    return f"{size} B"


def summary(parsed: ParsedMail) -> dict[str, Any]:
    return {
        "from": parsed.from_address,
        "subject": parsed.subject,
        "attachments": [
            {"name": a.filename, "type": a.content_type, "size": a.size} for a in parsed.attachments
        ],
    }
