"""Your own keys: every binding of the app by its id, moved for the desk or for one analyst.

The app's bindings each carry an id (``pull_next``); a keymap maps ids to keys in Textual's
form (``n``, ``ctrl+k``, several comma-separated). Three layers, the last that names an id
wins: the app's defaults, the desk's ``[keys]`` table in ``deskterm.toml``, the analyst's
own (``deskterm keys set``, the ``analyst_keymap`` table). Textual applies the result
(``App.set_keymap``) on every screen, so the footer and the key help follow it.

The bindings themselves are the app's (``tui/keymap.py`` reads them from its screens); this
module holds the rules, which need neither Textual nor the database: the key syntax, the
merge, the conflicts between two actions that would both be live on one key. The analysts'
own keys are kept by desk/keymaps.py.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from deskterm.domain.errors import InvalidInput
from deskterm.i18n import _

#: Where a binding is live at every screen: the app's own keys (and Textual's).
EVERYWHERE = "everywhere"
#: The modifiers Textual's key names carry, in the order it writes them.
MODIFIERS = ("ctrl", "alt", "meta", "super", "hyper", "shift")
#: Keys Textual names by word rather than by the character they type.
NAMED_KEYS = frozenset(
    {
        "escape",
        "enter",
        "return",
        "tab",
        "space",
        "backspace",
        "delete",
        "insert",
        "home",
        "end",
        "pageup",
        "pagedown",
        "up",
        "down",
        "left",
        "right",
        *(f"f{n}" for n in range(1, 25)),
    }
)
#: Textual's friendlier names for some characters' Unicode names (textual.keys).
_REPLACEMENTS = {
    "solidus": "slash",
    "reverse_solidus": "backslash",
    "commercial_at": "at",
    "hyphen_minus": "minus",
    "plus_sign": "plus",
    "low_line": "underscore",
}
_REPLACED = {friendly: name for name, friendly in _REPLACEMENTS.items()}
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
#: Longest keys text kept for one binding (the column's width).
KEYS_MAX = 200

Source = Literal["default", "desk", "analyst"]


def _char_to_key(character: str) -> str:
    """A typed character as Textual names its key (``?`` is ``question_mark``)."""
    if character.isalnum():
        return character
    try:
        name = unicodedata.name(character).lower().replace("-", "_").replace(" ", "_")
    except ValueError:
        return character
    return _REPLACEMENTS.get(name, name)


def _key_to_char(key: str) -> str | None:
    """The character a key name types, if it names one (``question_mark`` is ``?``)."""
    if len(key) == 1:
        return key
    name = _REPLACED.get(key, key).upper()
    # Unicode names mix spaces and hyphens ("HYPHEN-MINUS", "LESS-THAN SIGN"); Textual's
    # names made both underscores, so each underscore is tried as either.
    parts = name.split("_")
    for mask in range(2 ** (len(parts) - 1)):
        joined = parts[0]
        for index, part in enumerate(parts[1:]):
            joined += ("-" if mask >> index & 1 else " ") + part
        try:
            character = unicodedata.lookup(joined)
        except KeyError:
            continue
        if len(character) == 1 and character.isprintable() and _char_to_key(character) == key:
            return character
    return None


def parse_key(text: str) -> str:
    """One key in Textual's own form (``ctrl+question_mark``); ``ValueError`` says what
    Textual would not know in it."""
    raw = text.strip()
    if not raw:
        raise ValueError(_("an empty key"))
    if len(raw) == 1:
        if not raw.isprintable() or raw.isspace():
            raise ValueError(_("{key!r} is not a key").format(key=raw))
        return _char_to_key(raw)
    if raw.endswith("++"):
        # "ctrl++": the plus key itself.
        modifiers, base = raw[:-2].split("+"), "+"
    elif raw.endswith("+"):
        raise ValueError(_("{key!r}: no key after the last +").format(key=raw))
    else:
        *modifiers, base = raw.split("+")
    seen: list[str] = []
    for modifier in modifiers:
        word = modifier.strip().lower()
        if word not in MODIFIERS:
            raise ValueError(
                _("{key!r}: {modifier!r} is not a modifier (ctrl, alt, shift, super, meta)").format(
                    key=raw, modifier=modifier
                )
            )
        if word in seen:
            raise ValueError(_("{key!r}: {modifier} twice").format(key=raw, modifier=word))
        seen.append(word)
    base = base.strip()
    if len(base) == 1:
        if not base.isprintable() or base.isspace():
            raise ValueError(_("{key!r} is not a key").format(key=raw))
        name = _char_to_key(base)
    elif base.lower() in NAMED_KEYS:
        name = base.lower()
    elif base and _key_to_char(base.lower()) is not None:
        name = base.lower()
    else:
        raise ValueError(
            _(
                "{key!r}: {base!r} is not a key Textual knows (a letter, f1-f24, escape, ...)"
            ).format(key=raw, base=base)
        )
    ordered = [m for m in MODIFIERS if m in seen]
    return "+".join([*ordered, name])


def parse_keys(text: str) -> str:
    """Comma-separated keys (``n`` or ``?, f1``) in Textual's form, each once."""
    if not text.strip():
        raise ValueError(_("no key given"))
    # A lone "," is the comma key; otherwise commas separate keys.
    parts = [","] if text.strip() == "," else text.split(",")
    keys = list(dict.fromkeys(parse_key(part) for part in parts))
    joined = ",".join(keys)
    if len(joined) > KEYS_MAX:
        raise ValueError(_("more keys than one binding can hold"))
    return joined


def display_keys(keys: str) -> str:
    """Keys as a person writes them again (``?, ctrl+k``): what ``parse_keys`` reads back."""
    shown = []
    for key in keys.split(","):
        *modifiers, base = key.split("+") if key != "+" else ["+"]
        char = _key_to_char(base) if base not in NAMED_KEYS else None
        if char is not None and char not in ", " and len(base) > 1:
            base = char
        shown.append("+".join([*modifiers, base]))
    return ", ".join(shown)


@dataclass(frozen=True)
class KeyBinding:
    """One binding of the app where it is declared, as ``tui/keymap.py`` reads it."""

    id: str | None
    """What a keymap names it by; ``None`` for Textual's own keys (only shadowed, never
    moved)."""
    place: str
    """Where it is live: ``everywhere`` (the app's), or a screen's or a dialog's name."""
    keys: str
    """Its default keys, in Textual's form, comma-separated."""
    description: str
    """What it does, in the app's words (untranslated)."""
    action: str
    priority: bool = False
    """Checked before the focused widget's and the screen's keys (Textual's priority)."""
    modal: bool = False
    """A dialog: only the app's priority keys reach past it."""
    alongside: frozenset[str] = field(default_factory=frozenset)
    """Other places whose keys are live at the same time (a base dialog's, a widget's)."""


@dataclass(frozen=True)
class Conflict:
    """Two actions on one key where both would be live: one of them would never run."""

    key: str
    place: str
    first: str
    second: str

    def line(self) -> str:
        return _(
            "{key}: {first} and {second} would both be on this key ({place}); "
            "move one of them (`deskterm keys list` shows the keys in force)"
        ).format(key=display_keys(self.key), first=self.first, second=self.second, place=self.place)


def binding_ids(bindings: Iterable[KeyBinding]) -> dict[str, tuple[tuple[str, ...], str, str]]:
    """Every id the keymap may name: id -> (where, default keys, what it does)."""
    found: dict[str, tuple[tuple[str, ...], str, str]] = {}
    for binding in bindings:
        if binding.id is None:
            continue
        places, keys, description = found.get(binding.id, ((), binding.keys, binding.description))
        if binding.place not in places:
            places = (*places, binding.place)
        found[binding.id] = (places, keys, description)
    return found


def closest_id(wanted: str, ids: Iterable[str]) -> str | None:
    matches = difflib.get_close_matches(wanted.replace("-", "_").lower(), list(ids), n=1)
    return matches[0] if matches else None


def check_id(binding_id: str, ids: Iterable[str]) -> str:
    """``binding_id`` as the keymap keeps it, or a refusal naming the closest one."""
    known = set(ids)
    if binding_id in known:
        return binding_id
    closest = closest_id(binding_id, known)
    if closest is not None:
        said = _("{id!r} is not a binding id: did you mean {closest}?")
    else:
        said = _("{id!r} is not a binding id (`deskterm keys list` shows them)")
    raise InvalidInput(said.format(id=binding_id, closest=closest), field="binding")


def _live_together(one: KeyBinding, other: KeyBinding) -> str | None:
    """Where both would be live at once, or None."""
    if one.place == other.place or other.place in one.alongside or one.place in other.alongside:
        return one.place
    for app, screen in ((one, other), (other, one)):
        if app.place == EVERYWHERE and screen.place != EVERYWHERE:
            if not screen.modal or app.priority:
                return screen.place
    return None


def find_conflicts(bindings: Sequence[KeyBinding], keymap: Mapping[str, str]) -> list[Conflict]:
    """Two different actions on one key where both would be live (on one screen, or a
    screen's key and one of the app's it would shadow or be shadowed by). Only conflicts
    that ``keymap`` makes are reported: the app's defaults are its own business."""
    moved = set(keymap)

    def keys_of(binding: KeyBinding) -> set[str]:
        if binding.id is not None and binding.id in keymap:
            return set(keymap[binding.id].split(","))
        return set(binding.keys.split(","))

    found: dict[tuple[str, ...], Conflict] = {}
    for index, one in enumerate(bindings):
        for other in bindings[index + 1 :]:
            if one.id == other.id and one.id is not None:
                continue
            if one.id not in moved and other.id not in moved:
                continue
            shared = keys_of(one) & keys_of(other)
            if not shared:
                continue
            place = _live_together(one, other)
            if place is None:
                continue
            first, second = (_name(one), _name(other))
            # The one the person moved first: it is the one they will look for.
            if other.id in moved and one.id not in moved:
                first, second = second, first
            for key in sorted(shared):
                found.setdefault(
                    (key, place, *sorted((first, second))), Conflict(key, place, first, second)
                )
    return list(found.values())


def _name(binding: KeyBinding) -> str:
    return binding.id or _("Textual's {action}").format(action=binding.action)


def check_keymap(
    bindings: Sequence[KeyBinding], keymap: Mapping[str, str]
) -> tuple[dict[str, str], list[str]]:
    """A keymap as written (the desk's ``[keys]``) made Textual's, with every problem in it
    as one line each: an unknown id (and the closest), a key Textual would not know, a
    conflict naming both ids."""
    ids = binding_ids(bindings)
    problems: list[str] = []
    clean: dict[str, str] = {}
    for binding_id, text in keymap.items():
        try:
            known = check_id(binding_id, ids)
        except InvalidInput as exc:
            problems.append(str(exc))
            continue
        try:
            clean[known] = parse_keys(text)
        except ValueError as exc:
            problems.append(f"{binding_id}: {exc}")
    problems.extend(conflict.line() for conflict in find_conflicts(bindings, clean))
    return clean, problems


@dataclass(frozen=True)
class KeyInForce:
    """One binding id in ``deskterm keys list``."""

    id: str
    keys: str
    default: str
    source: Source
    places: tuple[str, ...]
    description: str


def keys_in_force(
    bindings: Sequence[KeyBinding], desk: Mapping[str, str], analyst: Mapping[str, str]
) -> list[KeyInForce]:
    """Every id with its keys in force and where they come from, ordered by id."""
    rows = []
    for binding_id, (places, default, description) in sorted(binding_ids(bindings).items()):
        keys = default
        source: Source = "default"
        if binding_id in desk:
            keys, source = desk[binding_id], "desk"
        if binding_id in analyst:
            keys, source = analyst[binding_id], "analyst"
        rows.append(KeyInForce(binding_id, keys, default, source, places, description))
    return rows


def merged(desk: Mapping[str, str], analyst: Mapping[str, str]) -> dict[str, str]:
    """The keymap for Textual: the analyst's keys over the desk's."""
    return {**desk, **analyst}
