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
from functools import cache
from typing import Any

from deskterm.domain.errors import InvalidInput
from deskterm.domain.text import SUBJECT_MAX, clean_line, clean_long, email_address
from deskterm.i18n import normalize

#: Longest body kept as text; a longer one is cut, and the whole message attached.
BODY_MAX = 60_000
#: Parts nested deeper than this, and files past this many, are not read: the log says
#: how many, and the message itself is kept whole (``deskterm mail raw ID``).
MAX_DEPTH = 100
MAX_FILES = 500
# An RFC 2047 encoded word. Only ever decoded into a display name, never into text that is
# parsed again: its bytes may hold CR, LF, "<", "@" or ";".
_ENCODED_WORD = re.compile(r"=\?[^?\s]*\?[bBqQ]\?[^?\s]*\?=")
_FOLD = re.compile(r"\r?\n(?=[ \t])")
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
    #: Why the sender cannot be told (two From addresses, a group), or None.
    sender_problem: str | None = None
    #: SHA-256 of the body as sent (see ``content_digest``).
    digest: str = ""
    #: What was not read, and how much: {"parts nested deeper than 100 levels": 3}.
    not_shown: dict[str, int] = field(default_factory=dict)
    #: Characters of text cut from the description (the whole message is kept).
    cut: int = 0


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
    name, address, problem = _sender(msg)
    subject = _subject(header(msg, "Subject"))
    walk = _Walk()
    walk.run(msg)
    body = clean_long("\n\n".join(p for p in walk.body if p.strip()))
    cut = 0
    if len(body) > BODY_MAX:
        cut = len(body) - BODY_MAX
        body = f"{body[:BODY_MAX]}\n\n[… {cut:,} more characters: see original-message.eml]"
        walk.files.append(Attachment("original-message.eml", "message/rfc822", raw))
    automatic, bounce = _automatic(msg, address, name)
    digest = content_digest(raw)
    return ParsedMail(
        dedup_key=mail_key(message_id, address, digest) if message_id else raw_key(raw),
        message_id=message_id,
        from_address=address,
        from_name=name,
        subject=subject,
        sent_at=_date(msg),
        thread_ids=_thread(msg),
        body=body,
        attachments=walk.files,
        automatic=automatic,
        bounce=bounce,
        language=_language(header(msg, "Content-Language")),
        from_this_desk=bool(header(msg, "X-Deskterm-Ticket")),
        sender_problem=problem,
        digest=digest,
        not_shown=walk.not_shown,
        cut=cut,
    )


def raw_key(raw: bytes) -> str:
    """The key of a message without a Message-ID: its bytes."""
    return f"sha256:{hashlib.sha256(raw).hexdigest()}"


def mail_key(message_id: str, sender: str | None, digest: str) -> str:
    """The key of a message with a Message-ID: the ID, who sent it and what it says.

    Anyone can write any Message-ID, so the ID alone would let one sender's mail (or a
    different mail of the same sender) pass as "imported before" and be lost.
    """
    said = "\n".join((message_id, sender or "", digest))
    return f"mail:{hashlib.sha256(said.encode('utf-8', 'surrogateescape')).hexdigest()}"


def content_digest(raw: bytes) -> str:
    """SHA-256 of the body as sent, line endings made LF.

    The headers are left out, since every relay adds its own ``Received`` line, and so are
    line endings, since IMAP hands a message over with CRLF and an mbox file holds it with
    LF: the same mail read either way has the same digest.
    """
    text = raw.replace(b"\r\n", b"\n")
    _head, gap, body = text.partition(b"\n\n")
    return hashlib.sha256(body.rstrip(b"\n") if gap else b"").hexdigest()


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


def _decode_8bit(raw: str) -> str:
    """Raw 8-bit header bytes as text: UTF-8, else Windows-1252."""
    data = raw.encode("utf-8", "surrogateescape")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


def _decode_raw(raw: str) -> str:
    """Raw 8-bit header bytes and RFC 2047 words, best effort: text to show, never to parse."""
    text = _decode_8bit(raw)
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


def _sender(msg: Message) -> tuple[str | None, str | None, str | None]:
    """The sender's display name and address (From, else Sender, else Reply-To), or why
    there is no telling who sent it.

    Read from the header as it arrived: encoded words are set aside before the address
    list is parsed, and only the display name is decoded. Decoding first would let a
    display name such as ``=?utf-8?q?=0D=0A_g=3A_victim=40customer=2Eexample=3B?=`` supply
    an address of its own.
    """
    for name in ("From", "Sender", "Reply-To"):
        values = _raw_all(msg, name)
        if not values:
            continue
        if len(values) > 1:
            return None, None, f"the mail has {len(values)} {name} lines: who sent it is unclear"
        found, problem = _mailbox(values[0], name)
        if problem is not None:
            return None, None, problem
        if found is not None:
            return found[0], found[1], None
    return None, None, None


def _raw_all(msg: Message, name: str) -> list[str]:
    wanted = name.lower()
    return [str(value) for key, value in msg.raw_items() if key.lower() == wanted]


def _mailbox(raw: str, name: str) -> tuple[tuple[str | None, str] | None, str | None]:
    """The one (display name, address) of an address header as it arrived, or the problem."""
    text = _FOLD.sub("", _decode_8bit(raw)).replace("\r", " ").replace("\n", " ")
    words: list[str] = []

    def set_aside(match: re.Match[str]) -> str:
        words.append(match[0])
        return f"xencodedword{len(words) - 1}x"

    plain = _ENCODED_WORD.sub(set_aside, text)
    try:
        parsed = email.policy.default.header_factory(name, plain)
        groups = list(getattr(parsed, "groups", ()))
        defects = list(getattr(parsed, "defects", ()))
    except Exception:  # a header the parser cannot take at all: nobody to answer
        return None, None
    if any(group.display_name is not None for group in groups):
        return None, f"the {name} header names a group, not one sender"
    found: list[tuple[str | None, str]] = []
    for group in groups:
        for mailbox in group.addresses:
            try:
                address = email_address(mailbox.addr_spec)
            except (InvalidInput, ValueError):
                continue
            if address:
                found.append((_display_name(mailbox.display_name, words), address))
    if len(found) > 1:
        listed = ", ".join(address for _name, address in found[:3])
        return (
            None,
            f"the {name} header names {len(found)} addresses ({listed}): who sent it is unclear",
        )
    # A header the parser had to guess at, with another "@" it did not take as an address,
    # may be read differently by the mail system that checked the sender: do not guess.
    if found and defects and plain.count("@") > 1:
        return None, f"the {name} header cannot be read unambiguously"
    return (found[0] if found else None), None


def _display_name(text: str, words: list[str]) -> str | None:
    def put_back(match: re.Match[str]) -> str:
        number = int(match[1])
        return words[number] if number < len(words) else match[0]

    name = re.sub(r"xencodedword(\d+)x", put_back, text or "")
    if "=?" in name:
        try:
            name = str(make_header(decode_header(name)))
        except (LookupError, UnicodeError, ValueError, email.errors.HeaderParseError):
            pass
    # A name that holds an address or a line break is dressed up as another sender:
    # "Vic Tim\r\n victim@customer.example" must not become the contact's name.
    if "@" in name or "\r" in name or "\n" in name:
        return None
    name = clean_line(_no_surrogates(name))[:200]
    # An encoded word that would not decode is noise, not a name.
    return None if "=?" in name else name or None


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
    """The first language a ``Content-Language`` header names: a tag deskterm ships as it
    keeps it (``pt-BR``, ``de``), else the language's own code (``fr``)."""
    first = clean_line(text).split(",")[0].strip()
    shipped = normalize(first)
    if shipped:
        return shipped
    match = re.match(r"^([a-z]{2,3})\b", first.lower())
    return match[1] if match else None


#: The languages a mail's text may be said to be in: those deskterm writes to customers in.
DETECTED = ("en", "de", "pt", "cs")
#: Their look-alikes, weighed too so that a Spanish, Galician, Slovak, Polish, French,
#: Italian or Dutch mail is not taken for Portuguese, Czech, English or German: measured,
#: restricted to the four alone the model calls Spanish Portuguese (0.99) and Slovak Czech.
_LOOKALIKES = ("es", "gl", "ca", "fr", "it", "sk", "pl", "nl")
#: Only a confident answer on enough text is trusted; else the language stays empty.
DETECT_CONFIDENCE = 0.9
DETECT_MIN_LETTERS = 20
_DETECT_MAX_CHARS = 4000
_SIGNATURE = re.compile(r"^-- ?$")


@cache
def _identifier() -> Any:
    # Loaded once, on the first mail from a new sender (about 0.1 s), never at import.
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    found = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    found.set_languages([*DETECTED, *_LOOKALIKES])
    return found


def guess_language(text: str) -> str | None:
    """The language a mail's own words are in (``de``, ``pt``, ``cs``, ``en``), or ``None``
    when the text is short, mixed, quoted or in another language: a wrong guess would write
    to a customer in a language they did not choose, an empty one writes in English.

    Quoted lines (``>``) and the signature (after ``-- ``) are not the sender's words."""
    own: list[str] = []
    for line in text.splitlines():
        if _SIGNATURE.match(line.rstrip()):
            break
        if line.lstrip().startswith(">"):
            continue
        own.append(line)
    sample = " ".join(" ".join(own).split())[:_DETECT_MAX_CHARS]
    if sum(ch.isalpha() for ch in sample) < DETECT_MIN_LETTERS:
        return None
    try:
        language, confidence = _identifier().classify(sample)
    except Exception:  # the model missing or broken: no guess, never a failed import
        return None
    return str(language) if language in DETECTED and confidence > DETECT_CONFIDENCE else None


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


class _Walk:
    """The readable text and the files of a message, read part by part.

    A loop over a stack, not recursion: how deep a message nests is up to its sender. Text
    is read at any depth down to ``MAX_DEPTH``; what is not read is counted in
    ``not_shown``, so the ticket can say so.
    """

    def __init__(self) -> None:
        self.body: list[str] = []
        self.files: list[Attachment] = []
        self.not_shown: dict[str, int] = {}

    def _skip(self, why: str) -> None:
        self.not_shown[why] = self.not_shown.get(why, 0) + 1

    def run(self, message: Message) -> None:
        # (part, depth, text wanted): ``text wanted`` is false inside an alternative that was
        # not chosen: its text repeats the chosen one, but its images (Outlook's pasted
        # screenshots) are the customer's and kept.
        stack: list[tuple[Message, int, bool]] = [(message, 0, True)]
        while stack:
            part, depth, text_wanted = stack.pop()
            if depth > MAX_DEPTH:
                self._skip(f"parts nested deeper than {MAX_DEPTH} levels")
                continue
            content_type = _content_type(part)
            if content_type == "message/rfc822":
                if self._room():
                    self.files.append(_forwarded(part, len(self.files)))
                continue
            if part.is_multipart():
                children = _children(part)
                chosen = None
                if content_type == "multipart/alternative" and text_wanted:
                    chosen = _best_alternative(children)
                # Reversed onto the stack, so the parts are read in the order they came.
                for child in reversed(children):
                    wanted = child is chosen if chosen is not None else text_wanted
                    stack.append((child, depth + 1, wanted))
                continue
            self._leaf(part, content_type, text_wanted)

    def _leaf(self, part: Message, content_type: str, text_wanted: bool) -> None:
        filename = _filename(part)
        if (
            content_type in ("text/plain", "text/html")
            and filename is None
            and _disposition(part) != "attachment"
        ):
            if text_wanted:
                text = part_text(part)
                self.body.append(html_to_text(text) if content_type == "text/html" else text)
            return
        payload = _payload(part)
        if not payload and filename is None:
            return
        if self._room():
            self.files.append(
                Attachment(
                    filename=filename or _made_name(content_type, len(self.files) + 1),
                    content_type=content_type,
                    content=payload,
                )
            )

    def _room(self) -> bool:
        """Whether another file may be kept; one past the limit is counted instead."""
        if len(self.files) < MAX_FILES:
            return True
        self._skip(f"files past the first {MAX_FILES}")
        return False


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
        if child.is_multipart() and _holds_html(child):
            return child
    return children[-1] if children else None


def _holds_html(part: Message) -> bool:
    # A loop, as in ``_Walk``: ``Message.walk()`` recurses once per level.
    stack = [(part, 0)]
    while stack:
        here, depth = stack.pop()
        if _content_type(here) == "text/html":
            return True
        if depth < MAX_DEPTH and here.is_multipart():
            stack.extend((child, depth + 1) for child in _children(here))
    return False


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

        text: str = get_text(html)
        return text
    except Exception:
        import html as html_lib

        stripped = re.sub(r"(?is)<(script|style|head).*?</\1>", " ", html)
        stripped = re.sub(r"(?i)<br\s*/?>|</p>|</div>|</li>|</tr>", "\n", stripped)
        return html_lib.unescape(re.sub(r"<[^>]+>", " ", stripped))


def describe_size(size: int, *, language: str | None = None) -> str:
    """``1.5 MB``; with a reader's ``language``, in their decimals (``1,5 MB``)."""
    units: list[tuple[int, str]] = [(1 << 20, "MB"), (1 << 10, "KB")]
    for factor, unit in units:
        if size >= factor:
            if language is None:
                return f"{size / factor:.1f} {unit}"
            from babel.numbers import format_decimal

            from deskterm.desk.templates import customer_locale

            locale = customer_locale(language)
            return f"{format_decimal(size / factor, format='#,##0.0', locale=locale)} {unit}"
    return f"{size} B"


def summary(parsed: ParsedMail) -> dict[str, Any]:
    return {
        "from": parsed.from_address,
        "subject": parsed.subject,
        "attachments": [
            {"name": a.filename, "type": a.content_type, "size": a.size} for a in parsed.attachments
        ],
    }
