"""Phone numbers as callers say them, normalised once when a number is stored.

A number is kept as typed (what the analyst sees) and, beside it, in E.164 (``+441184966515``)
for exact matching, and as the digit strings a caller may read out (E.164 digits, the national
form with its trunk prefix, the digits as typed) for matching any run of digits. A number
written without a country code is read in the desk's region (the ``phone_region`` setting;
:data:`DEFAULT_REGION` when none is given). Parsing is Google's libphonenumber rules, through
the ``phonenumbers`` package: ``0118 496 6515``, ``+441184966515`` and
``+44 (0)118 496 6515`` are one number.

Pure: no database, no settings. The desk and migration 0011 both use it.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from deskterm.i18n import _

#: Where a number without a country code is read when no region is set. GB, because the
#: demo desk and most of its callers are there; a desk elsewhere sets ``phone_region``.
DEFAULT_REGION = "GB"

#: Digits a caller reads out before a number is worth looking up as a run of its digits.
MIN_RUN = 4

_REGION = re.compile(r"^[A-Za-z]{2}$")


def digits(text: str | None) -> str:
    """The ASCII digits of ``text``: other scripts' digits are not dialled."""
    return "".join(ch for ch in (text or "") if "0" <= ch <= "9")


@cache
def _phonenumbers() -> Any:
    # Imported on first use: the CLI's start does not pay for its metadata.
    import phonenumbers

    return phonenumbers


def region_code(region: str | None) -> str:
    """``region`` as libphonenumber names it (``GB``, ``DE``); ValueError when unknown."""
    value = (region or DEFAULT_REGION).strip().upper()
    if not _REGION.match(value) or value not in _phonenumbers().SUPPORTED_REGIONS:
        raise ValueError(
            _("{region!r} is not a phone region (a country code such as GB or DE)").format(
                region=region
            )
        )
    return value


def _parsed(text: str, region: str) -> Any:
    pn = _phonenumbers()
    # libphonenumber reads at most 250 characters; no caller's number is near that.
    if not text or len(text) > 100:
        return None
    try:
        number = pn.parse(text, region_code(region))
    except pn.NumberParseException:
        return None
    return number if pn.is_possible_number(number) else None


def _forms(text: str | None, region: str) -> tuple[str | None, list[str]]:
    """E.164, and the spoken forms' digits (E.164, national, as typed), from one parse."""
    forms: list[str] = []
    found = None
    number = _parsed(text or "", region)
    if number is not None:
        pn = _phonenumbers()
        found = str(pn.format_number(number, pn.PhoneNumberFormat.E164))
        forms += [digits(found), digits(pn.format_number(number, pn.PhoneNumberFormat.NATIONAL))]
    forms.append(digits(text))
    return found, [f for i, f in enumerate(forms) if f and f not in forms[:i]]


def e164(text: str | None, region: str | None = None) -> str | None:
    """The number in E.164 (``+441184966515``), or ``None`` when it is not a possible number.

    Possible, not valid: fictitious ranges (Ofcom's drama numbers, the demo's) and numbers
    newer than the library's metadata are still numbers a caller has.
    """
    return _forms(text, region or DEFAULT_REGION)[0]


def spoken_forms(text: str | None, region: str | None = None) -> list[str]:
    """Each digit string a caller may read out for this number: E.164 digits, the national
    form (``01184966515``) and the digits as typed; distinct, in that order."""
    return _forms(text, region or DEFAULT_REGION)[1]


def dial_digits(
    phone: str | None, mobile: str | None = None, *, region: str | None = None
) -> str | None:
    """The spoken forms of both numbers, space-separated: what a run of digits is found in.

    ``None`` when there is no number. A run never spans two forms: the space is no digit.
    """
    return stored_numbers(phone, mobile, region=region)[-1]


def stored_numbers(
    phone: str | None, mobile: str | None = None, *, region: str | None = None
) -> tuple[str | None, str | None, str | None]:
    """What a contact's numbers are stored as, each parsed once: the phone's and the
    mobile's E.164, and every spoken form's digits (:func:`dial_digits`)."""
    where = region or DEFAULT_REGION
    phone_e164, phone_forms = _forms(phone, where)
    mobile_e164, mobile_forms = _forms(mobile, where)
    forms: list[str] = []
    for form in phone_forms + mobile_forms:
        if form not in forms:
            forms.append(form)
    return phone_e164, mobile_e164, " ".join(forms) or None


def national(text: str | None, region: str | None = None) -> str | None:
    """The number as said within its country (``0118 496 6515``); ``None`` if no number."""
    number = _parsed(text or "", region or DEFAULT_REGION)
    if number is None:
        return None
    pn = _phonenumbers()
    return str(pn.format_number(number, pn.PhoneNumberFormat.NATIONAL))


def looks_like_phone(text: str) -> bool:
    """Mostly digits (``+44 (0)118 496-6515``), at least :data:`MIN_RUN` of them."""
    found = digits(text)
    return len(found) >= MIN_RUN and len(found) * 2 >= len(text.replace(" ", ""))
