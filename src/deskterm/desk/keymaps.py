"""The keys each analyst moved (``deskterm keys set``), kept in ``analyst_keymap``: over the
desk's ``[keys]`` and the app's defaults in every app they open. The rules (key syntax,
conflicts) are domain/keymap.py's, re-exported here for the faces.
"""

from __future__ import annotations

import re

from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from sqlmodel import col

from deskterm.db.models import AnalystKeymap
from deskterm.desk.lookups import analyst_by_login
from deskterm.domain.errors import InvalidInput, PermissionDenied
from deskterm.domain.keymap import (
    EVERYWHERE,
    Conflict,
    KeyBinding,
    KeyInForce,
    binding_ids,
    check_id,
    check_keymap,
    closest_id,
    display_keys,
    find_conflicts,
    keys_in_force,
    merged,
    parse_key,
    parse_keys,
)
from deskterm.domain.permissions import Actor
from deskterm.i18n import _

__all__ = [
    "EVERYWHERE",
    "Conflict",
    "KeyBinding",
    "KeyInForce",
    "analyst_keymap",
    "binding_ids",
    "check_id",
    "check_keymap",
    "closest_id",
    "display_keys",
    "find_conflicts",
    "keys_in_force",
    "merged",
    "parse_key",
    "parse_keys",
    "reset_analyst_keys",
    "set_analyst_key",
]

_ID = re.compile(r"^[a-z][a-z0-9_]*$")


# ------------------------------------------------------------------ the analysts' own


def _analyst_for(session: Session, actor: Actor, login: str | None, *, change: bool) -> int:
    if login is None:
        if actor.id is None:
            raise InvalidInput(_("the system has no keys of its own: name an analyst"))
        return actor.id
    analyst = analyst_by_login(session, login)
    assert analyst.id is not None
    # Oneself, or a supervisor (or admin) for anyone: a desk sets its people up.
    if not (actor.id == analyst.id or actor.is_supervisor):
        if change:
            said = _("only a supervisor may change the keys of {login}")
        else:
            said = _("only a supervisor may see the keys of {login}")
        raise PermissionDenied(said.format(login=analyst.login))
    return analyst.id


def analyst_keymap(session: Session, actor: Actor, *, login: str | None = None) -> dict[str, str]:
    """The keys ``login`` (default: the actor) moved, by binding id."""
    analyst_id = _analyst_for(session, actor, login, change=False)
    rows = session.execute(
        select(col(AnalystKeymap.binding_id), col(AnalystKeymap.keys)).where(
            col(AnalystKeymap.analyst_id) == analyst_id
        )
    ).all()
    return {str(binding_id): str(keys) for binding_id, keys in rows}


def set_analyst_key(
    session: Session, actor: Actor, *, binding_id: str, keys: str, login: str | None = None
) -> str:
    """Keep ``keys`` for ``binding_id`` in the analyst's own keymap; returns them in
    Textual's form. The face checks the id and the conflicts against the app's bindings."""
    analyst_id = _analyst_for(session, actor, login, change=True)
    if not _ID.match(binding_id) or len(binding_id) > 64:
        raise InvalidInput(
            _("{id!r} is not a binding id (`deskterm keys list` shows them)").format(id=binding_id),
            field="binding",
        )
    try:
        clean = parse_keys(keys)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="keys") from None
    row = session.get(AnalystKeymap, (analyst_id, binding_id))
    if row is None:
        session.add(AnalystKeymap(analyst_id=analyst_id, binding_id=binding_id, keys=clean))
    else:
        row.keys = clean
    session.flush()
    return clean


def reset_analyst_keys(
    session: Session, actor: Actor, *, binding_id: str | None = None, login: str | None = None
) -> int:
    """Back to the desk's keys (or the defaults): one binding, or all of them. Returns how
    many the analyst had moved."""
    analyst_id = _analyst_for(session, actor, login, change=True)
    query = delete(AnalystKeymap).where(col(AnalystKeymap.analyst_id) == analyst_id)
    if binding_id is not None:
        query = query.where(col(AnalystKeymap.binding_id) == binding_id)
    result = session.execute(query)
    return int(getattr(result, "rowcount", 0) or 0)
