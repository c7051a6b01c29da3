"""The analyst's language: gettext catalogs kept as ``.po`` files, chosen per process.

Who reads what:
- An analyst reads the app and the CLI in their own language (``analyst edit --language``),
  else in the one the locale variables name (``LC_ALL``, ``LC_MESSAGES``, ``LANG``; then
  ``LANGUAGE``, as GNU gettext reads them), else in English. One process serves one analyst
  (the app, a CLI call, each SSH session), so the language in force is the process's:
  ``use()`` sets it once the analyst is known, and worker threads raise their refusals in it.
- A customer reads their own language, whoever sends: code that writes to customers asks
  ``translation(contact_language)`` and never the process's language.

The catalogs are the ``.po`` files under ``deskterm/locale/<lang>/LC_MESSAGES``, read at run
time (no build step: an editable install, a checkout and a wheel behave the same, and a
translator sees a corrected ``.po`` at the next start). Parsing a ``.po`` file with Babel
costs tens of milliseconds, so the first run compiles it to a ``.mo`` file in the user's
cache folder, named by the ``.po``'s size and time, and every later start reads that with
the standard library (about a millisecond). Where the cache cannot be written the
catalog is parsed in memory each time.

Strings are marked ``_("...")`` where they are shown and ``N_("...")`` where they are
defined before the language is known (class attributes, module constants): those are
translated where they are shown, with ``_(constant)``. Placeholders are named
(``_("{ref} was reassigned").format(ref=...)``) so a translation may reorder them.
"""

from __future__ import annotations

import gettext as _gettext
import os
import threading
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path

#: The languages deskterm ships, English first (the source language).
LANGUAGES = ("en", "de", "pt", "cs")
DOMAIN = "deskterm"
_LOCALE_DIR = Path(__file__).resolve().parent / "locale"
#: The locale variables, in the order GNU gettext reads them for messages.
_LOCALE_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG")

_lock = threading.Lock()
_current: _gettext.NullTranslations | None = None
_current_tag = "en"


def normalize(language: str | None) -> str | None:
    """A language tag as deskterm keeps it: ``de``, ``pt-BR``, ``cs``; ``None`` if it is none
    of the shipped languages. Accepts locale names (``de_DE.UTF-8``, ``pt_BR@euro``)."""
    text = (language or "").strip()
    if not text:
        return None
    text = text.split(".", 1)[0].split("@", 1)[0].replace("_", "-")
    base, _sep, region = text.partition("-")
    base = base.lower()
    names = {
        "english": "en",
        "german": "de",
        "deutsch": "de",
        "portuguese": "pt",
        "português": "pt",
        "czech": "cs",
        "čeština": "cs",
        "cestina": "cs",
        "cz": "cs",
    }
    base = names.get(base, base)
    if base not in LANGUAGES:
        return None
    region = region.upper()[:2]
    return f"{base}-{region}" if region.isalpha() and len(region) == 2 else base


def language_from_environment(environ: dict[str, str] | None = None) -> str | None:
    """The language the locale variables name, if it is one deskterm speaks.

    ``C`` and ``POSIX`` mean English. ``LANGUAGE`` (a list, ``pt_BR:pt:en``) is read only
    when the locale itself is not ``C``, as GNU gettext does.
    """
    # The locale belongs to the process's environment, not to deskterm's settings: read here.
    env = os.environ if environ is None else environ
    locale_name = next((env[v] for v in _LOCALE_VARIABLES if env.get(v)), "")
    if locale_name.split(".", 1)[0] in ("C", "POSIX"):
        return None
    for part in env.get("LANGUAGE", "").split(":"):
        found = normalize(part)
        if found:
            return found
    return normalize(locale_name)


def use(language: str | None, *, environ: dict[str, str] | None = None) -> str:
    """Make ``language`` (else the locale's, else English) the process's; returns the tag."""
    global _current, _current_tag
    tag = normalize(language) or language_from_environment(environ) or "en"
    found = translation(tag)
    with _lock:
        _current, _current_tag = found, tag
    return tag


def current() -> str:
    """The tag of the language in force (``en`` until ``use`` says otherwise)."""
    _active()
    return _current_tag


def babel_locale(tag: str | None = None) -> str:
    """The Babel locale name for a tag: ``de``, ``pt_BR``, ``pt_PT``, ``cs``."""
    tag = normalize(tag) if tag is not None else current()
    if not tag:
        return "en"
    base, _sep, region = tag.partition("-")
    if base == "pt" and not region:
        region = "BR"
    return f"{base}_{region}" if region else base


def language_name(tag: str | None) -> str:
    """A language's name in the language in force: ``Deutsch``, ``German``, ``čeština``."""
    from babel import Locale

    found = normalize(tag) or "en"
    try:
        name = Locale.parse(babel_locale(found)).get_display_name(babel_locale()) or found
    except ValueError:
        return found
    return name


def _active() -> _gettext.NullTranslations:
    global _current, _current_tag
    found = _current
    if found is None:
        # First use before anyone said whose language: the locale's (the CLI's --help).
        tag = language_from_environment() or "en"
        found = translation(tag)
        with _lock:
            if _current is None:
                _current, _current_tag = found, tag
            found = _current
    return found


def _(message: str) -> str:
    """``message`` in the language in force."""
    return _active().gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of a counted message for ``n``, in the language in force (Czech has three)."""
    return _active().ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """``message`` in the language in force, where the same English word needs two
    translations (``pgettext("status", "Open")`` vs the verb)."""
    return _active().pgettext(context, message)


def translate(tag: str | None, message: str) -> str:
    """``message`` in a given language (a customer's), whatever the process speaks."""
    return translation(tag).gettext(message)


def ntranslate(tag: str | None, singular: str, plural: str, n: int) -> str:
    """A counted message in a given language (a customer's)."""
    return translation(tag).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Marks ``message`` for translation where it is defined; ``_()`` translates it later."""
    return message


@cache
def translation(tag: str | None) -> _gettext.NullTranslations:
    """The catalog for a tag, falling back from ``pt-BR`` to ``pt`` and then to English."""
    tag = normalize(tag) or "en"
    base, _sep, region = tag.partition("-")
    chain = [f"{base}_{region}"] if region else []
    chain.append(base)
    found: _gettext.NullTranslations | None = None
    for name in reversed(chain):
        catalog = _load(name)
        if catalog is None:
            continue
        if found is not None:
            catalog.add_fallback(found)
        found = catalog
    return found or _gettext.NullTranslations()


def po_file(name: str) -> Path:
    """Where a language's catalog lives in the source."""
    return _LOCALE_DIR / name / "LC_MESSAGES" / f"{DOMAIN}.po"


def _load(name: str) -> _gettext.GNUTranslations | None:
    po = po_file(name)
    try:
        stat = po.stat()
    except OSError:
        return None
    from deskterm.paths import cache_dir

    compiled = cache_dir() / "locale" / f"{name}-{stat.st_size}-{stat.st_mtime_ns}.mo"
    try:
        with compiled.open("rb") as fp:
            return _gettext.GNUTranslations(fp)
    except (OSError, ValueError):
        pass
    data = compile_po(po)
    try:
        compiled.parent.mkdir(parents=True, exist_ok=True)
        partial = compiled.with_suffix(f".{os.getpid()}.tmp")
        partial.write_bytes(data)
        os.replace(partial, compiled)
    except OSError:
        pass  # A read-only home: parse again next time rather than fail.
    import io

    return _gettext.GNUTranslations(io.BytesIO(data))


def compile_po(po: Path) -> bytes:
    """A ``.po`` file as ``.mo`` bytes; fuzzy entries are left out, as msgfmt does."""
    import io

    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as fp:
        catalog = read_po(fp)
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


# Dates, times, numbers and durations in the analyst's locale (Babel's CLDR data). Machines'
# formats stay as they are: CSV and JSON keep ISO dates and a "." decimal.


def format_time(at: datetime | None, now: datetime | None = None, *, empty: str = "—") -> str:
    """A moment in the analyst's zone and words: ``14:30`` today, ``Mo. 14:30`` within a
    week, ``Mo., 7. Dez., 14:30`` this year, ``7. Dez. 2025, 14:30`` before."""
    if at is None:
        return empty
    from babel.dates import format_skeleton

    locale = babel_locale()
    mine = at.astimezone()

    def part(skeleton: str) -> str:
        return format_skeleton(skeleton, mine, locale=locale)

    if now is not None:
        today = now.astimezone().date()
        days = abs((mine.date() - today).days)
        if days == 0:
            return part("Hm")
        if days < 7:
            return f"{part('E')} {part('Hm')}"
        if mine.year == today.year:
            return f"{part('MMMEd')}, {part('Hm')}"
    return f"{part('yMMMd')}, {part('Hm')}"


def format_date(day: date | datetime | None, *, empty: str = "—") -> str:
    """A day in the analyst's words: ``7. Dez. 2026``."""
    if day is None:
        return empty
    from babel.dates import format_date as babel_date

    return babel_date(day, format="medium", locale=babel_locale())


def format_duration(seconds: float | timedelta) -> str:
    """A length of time in hours and minutes: ``2 Std. 15 Min.``, ``2 hr 15 min``; seconds
    only below a minute."""
    from babel.units import format_unit

    if isinstance(seconds, timedelta):
        seconds = seconds.total_seconds()
    total = int(abs(seconds))
    locale = babel_locale()
    if total < 60:
        return format_unit(total, "duration-second", length="short", locale=locale)
    hours, minutes = divmod(total // 60, 60)
    parts = []
    if hours:
        parts.append(format_unit(hours, "duration-hour", length="short", locale=locale))
    if minutes or not hours:
        parts.append(format_unit(minutes, "duration-minute", length="short", locale=locale))
    return " ".join(parts)


def format_ago(at: datetime, now: datetime) -> str:
    """How long ago (or ahead) in words: ``vor 5 Min.``, ``in 2 Std.``."""
    from babel.dates import format_timedelta

    return format_timedelta(
        at - now, add_direction=True, format="short", threshold=1, locale=babel_locale()
    )


def format_number(value: float, *, digits: int | None = None) -> str:
    """A number with the locale's separators: ``1.234,5`` in German."""
    from babel.numbers import format_decimal

    pattern = None if digits is None else "#,##0." + "0" * digits if digits else "#,##0"
    return format_decimal(value, format=pattern, locale=babel_locale())


def format_percent(share: float, *, digits: int = 0) -> str:
    """A share (0.93) as the locale writes it: ``93 %`` in German, ``93%`` in English."""
    from babel.numbers import format_percent as babel_percent

    if not digits:
        return babel_percent(share, locale=babel_locale())
    return babel_percent(share, format="#,##0." + "0" * digits + "%", locale=babel_locale())
