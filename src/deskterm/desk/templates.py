"""The words customers get: Jinja2 templates per notice and language, editable by an admin.

A template ``<lang>/<notice>.txt`` has three blocks: ``subject`` and ``body`` for email,
``sms`` for a text message. An admin's copy under ``templates/`` in the config folder wins
over the shipped one in ``data/templates/``; a language without its own copy of a notice
gets the English one. Templates run sandboxed, and an unknown variable is an error (a typo
must not send a customer a blank), reported as the reason the message failed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from deskterm.domain.text import clean_line

DEFAULT_LANGUAGE = "en"
_NAMES = {"english": "en", "german": "de", "deutsch": "de"}
_SUBTAG = re.compile(r"^([a-z]{2,3})(?:[-_].*)?$")


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


def language_code(language: str | None) -> str:
    """``de`` for ``de``, ``de-AT``, ``German`` or ``Deutsch``; English when unknown."""
    text = (language or "").strip().lower()
    if text in _NAMES:
        return _NAMES[text]
    match = _SUBTAG.match(text)
    return match[1] if match else DEFAULT_LANGUAGE


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
    from jinja2 import TemplateError, TemplateNotFound

    env = _environment(tuple(dirs or template_dirs()))
    code = language_code(language)
    names = [f"{code}/{notice}.txt"]
    if code != DEFAULT_LANGUAGE:
        names.append(f"{DEFAULT_LANGUAGE}/{notice}.txt")
    try:
        template = env.select_template(names)
    except TemplateNotFound:
        raise TemplateProblem(f"no template {names[-1]} for {notice!r} messages") from None
    except TemplateError as exc:
        raise TemplateProblem(f"template {names[0]}: {_said(exc)}") from None
    try:
        parts = {}
        for block in ("subject", "body", "sms"):
            if block not in template.blocks:
                raise TemplateProblem(f"template {template.name} has no {{% block {block} %}}")
            ctx = template.new_context(dict(context))
            parts[block] = "".join(template.blocks[block](ctx))
    except TemplateError as exc:
        raise TemplateProblem(f"template {template.name}: {_said(exc)}") from None
    body = re.sub(r"\n{3,}", "\n\n", "\n".join(line.rstrip() for line in parts["body"].split("\n")))
    return Rendered(
        subject=clean_line(parts["subject"]),
        body=body.strip() + "\n",
        sms=clean_line(parts["sms"]),
        template=template.name or names[0],
    )


def _said(exc: Exception) -> str:
    line = getattr(exc, "lineno", None)
    where = f"line {line}: " if line else ""
    return where + " ".join(str(exc).split())
