"""Text that came from outside: callers' names, subjects, notes, mail.

It is stored without terminal control characters, so that nothing a caller typed can move a
cursor, set a window title or smuggle a hyperlink; line breaks and tabs survive in long text.
Markup is not interpreted here: faces show text literally (``rich.text.Text``, never markup).
"""

from __future__ import annotations

import re
import unicodedata

from deskterm.domain.errors import InvalidInput
from deskterm.i18n import _, format_number, pgettext

# Whole escape sequences first (CSI, OSC, DCS/PM/APC and two-byte ESC forms), so their
# printable tails ("]0;title") vanish with them, then any lone control characters. An
# unterminated string sequence ends at the line break: a stray ESC in a mail must not
# swallow the rest of the body.
_ESCAPES = re.compile(
    r"""
    \x1b\[[0-?]*[ -/]*[@-~]            # CSI ... final byte
    | \x1b\][^\x07\x1b\n]*(?:\x07|\x1b\\)? # OSC ... BEL or ST (a line at most)
    | \x1b[PX^_][^\x1b\n]*(?:\x1b\\)?      # DCS, SOS, PM, APC ... ST (a line at most)
    | \x1b[@-Z\\-_]                      # two-byte escapes
    | \x9b[0-?]*[ -/]*[@-~]              # 8-bit CSI
    | \x9d[^\x07\x9c\n]*(?:\x07|\x9c)?   # 8-bit OSC
    """,
    re.VERBOSE,
)
_CONTROL_LONG = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_CONTROL_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Bidirectional overrides and isolates can make a line read differently from what it holds.
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
# Lone surrogates are what invalid UTF-8 becomes on the way in (a command line decoded with
# surrogateescape); no database or terminal can take them, so they show as the usual U+FFFD.
_SURROGATES = re.compile("[\ud800-\udfff]")

SUBJECT_MAX = 200
NAME_MAX = 200
SHORT_MAX = 320
LONG_MAX = 65_536


def _unescaped(text: str) -> str:
    return _SURROGATES.sub("\ufffd", _BIDI.sub("", _ESCAPES.sub("", text)))


def clean_line(text: str | None) -> str:
    """One line of outside text: no control characters, runs of space folded, trimmed."""
    if not text:
        return ""
    text = _unescaped(text)
    text = _CONTROL_LINE.sub(" ", text)
    return " ".join(text.split())


def clean_long(text: str | None) -> str:
    """Multi-line outside text: line breaks and tabs kept, other controls dropped."""
    if not text:
        return ""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL_LONG.sub("", _unescaped(text))
    return unicodedata.normalize("NFC", text).strip()


def visible(text: str | None) -> str:
    """Any text as it may reach a terminal: line breaks and tabs kept, spacing kept, every
    escape sequence, other control character and bidi override dropped."""
    if not text:
        return ""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL_LONG.sub("", _unescaped(text))


def stored(text: str) -> str:
    """Text read back from rows written elsewhere (an export file): every escape sequence,
    control character but line break, tab and carriage return, bidi override and lone
    surrogate taken out, and nothing else touched. Text the desk cleaned on its way in holds
    none of them, so it comes back exactly as it was stored."""
    return _CONTROL_LONG.sub("", _unescaped(text))


def _not_huge(text: str | None, *, field: str, limit: int) -> None:
    # Refused before cleaning: nothing cleaning removes could bring a 10 MB paste within a
    # limit, and cleaning it first would only keep the analyst waiting for the refusal.
    if text and len(text) > 4 * limit + 4096:
        limit_length(text, field=field, limit=limit)


def field_label(field: str) -> str:
    """A field's name as an analyst reads it in a refusal ("subject must not be empty"); the
    name the code gives it (``field=``) stays as it is, for the screen to place the error."""
    names = {
        "subject": pgettext("form field", "subject"),
        "description": pgettext("form field", "description"),
        "reason": pgettext("form field", "reason"),
        "public_reason": pgettext("form field", "public reason"),
        "name": pgettext("form field", "name"),
        "title": pgettext("form field", "title"),
        "body": pgettext("form field", "body"),
        "note": pgettext("form field", "note"),
        "topic": pgettext("form field", "topic"),
        "resolution": pgettext("form field", "resolution"),
        "outcome": pgettext("form field", "outcome"),
        "comment": pgettext("form field", "comment"),
        "organization": pgettext("form field", "organization"),
        "product": pgettext("form field", "product"),
        "model": pgettext("form field", "model"),
        "serial": pgettext("form field", "serial"),
        "location": pgettext("form field", "location"),
        "account": pgettext("form field", "account"),
        "search text": pgettext("form field", "search text"),
    }
    return names.get(field, field.replace("_", " "))


def required_line(text: str | None, *, field: str, limit: int = SUBJECT_MAX) -> str:
    """A cleaned one-line value that must not be empty and must fit ``limit`` characters."""
    _not_huge(text, field=field, limit=limit)
    value = clean_line(text)
    if not value:
        raise InvalidInput(
            _("{field} must not be empty").format(field=field_label(field)), field=field
        )
    return limit_length(value, field=field, limit=limit)


def optional_line(text: str | None, *, field: str, limit: int = SHORT_MAX) -> str | None:
    _not_huge(text, field=field, limit=limit)
    value = clean_line(text)
    return limit_length(value, field=field, limit=limit) if value else None


def long_text(
    text: str | None, *, field: str, limit: int = LONG_MAX, required: bool = False
) -> str:
    _not_huge(text, field=field, limit=limit)
    value = clean_long(text)
    if required and not value:
        raise InvalidInput(
            _("{field} must not be empty").format(field=field_label(field)), field=field
        )
    return limit_length(value, field=field, limit=limit)


def limit_length(value: str, *, field: str, limit: int) -> str:
    if len(value) > limit:
        raise InvalidInput(
            _("{field} is too long ({n} characters; at most {limit})").format(
                field=field_label(field), n=format_number(len(value)), limit=format_number(limit)
            ),
            field=field,
        )
    return value


def phone_digits(text: str | None) -> str:
    """The digits of a phone number, for matching fragments however it was written."""
    return "".join(ch for ch in (text or "") if ch.isdigit())


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def email_address(text: str | None, *, field: str = "email") -> str | None:
    value = clean_line(text).lower()
    if not value:
        return None
    if not _EMAIL.match(value) or len(value) > SHORT_MAX:
        raise InvalidInput(_("{text!r} is not an email address").format(text=text), field=field)
    return value
