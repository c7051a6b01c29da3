"""The words customers get: Jinja2 templates per notice and language, editable by an admin.

A template ``<lang>/<notice>.txt`` has three blocks: ``subject`` and ``body`` for email,
``sms`` for a text message. An admin's copy under ``templates/`` in the config folder wins
over the shipped one in ``data/templates/``. The folder is the contact's language tag as
deskterm keeps it (``de``, ``pt``, ``pt-BR``, ``cs``); a notice is looked up from the most
specific folder to English: ``pt-BR/`` -> ``pt/`` -> ``en/``, ``de-AT/`` -> ``de/`` -> ``en/``.
So ``pt-BR/`` holds only the notices whose Brazilian wording differs. Templates include the
signature as ``{% include signature %}``: the ``_signature.txt`` of the same chain.

Moments (``callback_at``, ``due_at``) reach the template already written the reader's way
(``segunda-feira, 7 de dezembro de 2026, 14:30 UTC``). Templates run sandboxed, and an
unknown variable is an error (a typo must not send a customer a blank), reported as the
reason the message failed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from deskterm.domain.text import clean_line
from deskterm.i18n import babel_locale, normalize

DEFAULT_LANGUAGE = "en"
#: The longest text message sent: two concatenated GSM segments (2 x 153 characters), and
#: some room. Templates shorten what varies (a reason, a subject); a longer text is cut.
SMS_MAX = 320
#: The variables that hold a moment, as the log writes it (``2026-12-07 14:30 UTC``).
MOMENTS = ("callback_at", "due_at")
_SUBTAG = re.compile(r"^([a-z]{2,3})(?:[-_].*)?$")
_STAMP = re.compile(r"^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2})(?::\d{2})?(?: ?UTC|Z|\+00:00)?$")


class TemplateProblem(Exception):
    """A template is missing or broken; ``str()`` names the file and the problem."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str
    sms: str
    template: str


def template_dirs() -> list[Path]:
    """Where templates are looked up, the admin's folder first."""
    from deskterm.paths import config_dir, shipped_data_dir

    return [config_dir() / "templates", shipped_data_dir() / "templates"]


def language_chain(language: str | None) -> list[str]:
    """The folders a contact's language reads from, most specific first, English last:
    ``["pt-BR", "pt", "en"]`` for ``pt-BR`` or ``pt_BR``, ``["de-AT", "de", "en"]`` for
    ``de-AT``, ``["en"]`` when unknown. A language deskterm does not ship keeps its own
    two-letter folder, for an admin who writes one (``["fr", "en"]``)."""
    tag = normalize(language)
    if tag is None:
        match = _SUBTAG.match((language or "").strip().lower())
        tag = match[1] if match else DEFAULT_LANGUAGE
    base, _sep, region = tag.partition("-")
    chain = [tag] if region else []
    chain.append(base)
    if base != DEFAULT_LANGUAGE:
        chain.append(DEFAULT_LANGUAGE)
    return chain


def language_code(language: str | None) -> str:
    """``de`` for ``de``, ``de-AT``, ``German`` or ``Deutsch``; English when unknown."""
    return language_chain(language)[0].partition("-")[0]


def customer_locale(language: str | None) -> str:
    """The Babel locale a customer's dates are written in: plain ``pt`` is Portugal's, as
    its templates are (``pt-BR`` has its own)."""
    tag = normalize(language)
    return "pt_PT" if tag == "pt" else babel_locale(tag or DEFAULT_LANGUAGE)


def format_moment(value: Any, language: str | None) -> Any:
    """A moment as the customer reads it: ``Monday, December 7, 2026, 2:30 PM UTC``,
    ``Montag, 7. Dezember 2026, 14:30 UTC``. Accepts a datetime or the log's
    ``YYYY-MM-DD HH:MM UTC``; anything else is given back as it is."""
    if isinstance(value, str):
        match = _STAMP.match(value.strip())
        if match is None:
            return value
        try:
            value = datetime.fromisoformat(f"{match[1]}T{match[2]}").replace(tzinfo=UTC)
        except ValueError:
            return value
    if not isinstance(value, datetime):
        return value
    from babel import Locale
    from babel.dates import format_date, format_time

    locale = Locale.parse(customer_locale(language))
    at = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    day = format_date(at, format="full", locale=locale)
    time = format_time(at, format="short", tzinfo=UTC, locale=locale)
    # CLDR's glue ("{1}, {0}"), without its quoted words ("{1} 'at' {0}").
    glue = re.sub(r"'([^']*)'", r"\1", str(locale.datetime_formats.get("full", "{1}, {0}")))
    # CLDR's narrow no-break space ("2:30\u202fPM") would make a text message Unicode.
    return " ".join(f"{glue.format(time, day)} UTC".split())


@cache
def _environment(dirs: tuple[Path, ...]) -> Any:
    from jinja2 import ChoiceLoader, FileSystemLoader, StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(
        loader=ChoiceLoader([FileSystemLoader(str(d)) for d in dirs]),
        undefined=StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


def render_notice(
    notice: str,
    language: str | None,
    context: dict[str, Any],
    *,
    dirs: list[Path] | None = None,
) -> Rendered:
    """The message ``notice`` in ``language`` (a contact's tag), from the first folder of its
    chain that has it."""
    from jinja2 import TemplateError, TemplateNotFound

    env = _environment(tuple(dirs or template_dirs()))
    chain = language_chain(language)
    names = [f"{folder}/{notice}.txt" for folder in chain]
    try:
        template = env.select_template(names)
    except TemplateNotFound:
        raise TemplateProblem(f"no template {names[-1]} for {notice!r} messages") from None
    except TemplateError as exc:
        raise TemplateProblem(f"template {names[0]}: {_said(exc)}") from None
    told = dict(context)
    for key in MOMENTS:
        if told.get(key):
            told[key] = format_moment(told[key], language)
    told.setdefault("signature", [f"{folder}/_signature.txt" for folder in chain])
    try:
        parts = {}
        for block in ("subject", "body", "sms"):
            if block not in template.blocks:
                raise TemplateProblem(f"template {template.name} has no {{% block {block} %}}")
            ctx = template.new_context(dict(told))
            parts[block] = "".join(template.blocks[block](ctx))
    except TemplateError as exc:
        raise TemplateProblem(f"template {template.name}: {_said(exc)}") from None
    body = re.sub(r"\n{3,}", "\n\n", "\n".join(line.rstrip() for line in parts["body"].split("\n")))
    sms = clean_line(parts["sms"])
    if len(sms) > SMS_MAX:
        sms = sms[: SMS_MAX - 1].rstrip() + "…"
    return Rendered(
        subject=clean_line(parts["subject"]),
        body=body.strip() + "\n",
        sms=sms,
        template=template.name or names[0],
    )


def _said(exc: Exception) -> str:
    line = getattr(exc, "lineno", None)
    where = f"line {line}: " if line else ""
    return where + " ".join(str(exc).split())
