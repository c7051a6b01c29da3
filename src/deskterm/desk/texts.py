"""Text modules (Zammad's name; canned answers): short texts with variables that analysts
insert in a note or reply by typing ``::`` and a few letters (issue 21).

Three scopes, as Freshdesk's and Zendesk's personal and shared canned responses: every
analyst keeps modules of their own (``personal``, the default of ``deskterm text add``), a
supervisor manages their groups' (``--group``), an admin everyone's (``--everyone``) and any
group's. An analyst sees their own, their groups' and everyone's (an admin: every group's),
never another analyst's personal ones. A personal module is its owner's to change; an admin
may remove one (``--owner LOGIN``: an analyst who left), never rewrite it.

One name may live in several scopes; the one that wins, when ``::name`` inserts it or a
command names no scope: the analyst's own, then the ticket's group's, then another of their
groups', then everyone's (``pick``, ``_find``). Two groups' tying is refused by the commands
with "say which with --group".

Rendering. A module is plain text in which ``{{ ... }}`` names a value of the ticket in hand:
``contact.first_name``, ``contact.name``, ``ticket.ref``, ``ticket.subject``, ``ticket.group``,
``me.name``, ``me.first_name`` (a few plain filters may follow: ``upper``, ``lower``, ``title``,
``capitalize``, ``trim``, ``default``). Each such expression is run in Jinja2's immutable
sandbox, autoescape off (the output is plain text). Everything else is left exactly as it was
written: an unknown variable, an expression that is not a known value (``{{ ''.__class__ }}``,
``{{ 7*7 }}``), one the sandbox refuses, and every ``{% ... %}`` statement, which is never run
(so no loop can be made to spin). A known value that the ticket lacks (no caller) is empty,
so ``{{ contact.first_name | default("there", true) }}`` reads well either way. The values
are data: a caller named ``{{ 7*7 }}`` is written as ``{{ 7*7 }}``, never rendered; customer
text is never a template.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session
from sqlmodel import col

from deskterm.db.models import Analyst, Contact, SupportGroup, TextModule, Ticket
from deskterm.desk import clock
from deskterm.desk.lookups import analyst_by_login, group_by_name
from deskterm.desk.schemas import Public
from deskterm.domain.errors import InvalidInput, NotFound, PermissionDenied
from deskterm.domain.permissions import Actor
from deskterm.domain.refs import format_ref, parse_ref
from deskterm.domain.text import clean_line, long_text
from deskterm.i18n import _

if TYPE_CHECKING:
    from jinja2.sandbox import ImmutableSandboxedEnvironment

NAME_MAX = 60
#: A canned answer is a few paragraphs; a longer one belongs in the knowledge base.
BODY_MAX = 10_000
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
#: ``{{ ... }}`` as typed: the only places a module's text is not copied as it stands.
_EXPRESSION = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
#: The values a module may name, ``root.field`` (``desk.name``: deskterm has no desk name).
VARIABLES: dict[str, tuple[str, ...]] = {
    "contact": ("first_name", "name"),
    "ticket": ("ref", "subject", "group"),
    "me": ("name", "first_name"),
}
_FILTERS = frozenset({"upper", "lower", "title", "capitalize", "trim", "default", "d"})
#: A literal in an expression (a ``default``'s text) longer than this is not a greeting.
_CONST_MAX = 200


class TextModulePublic(Public):
    id: int
    name: str
    #: ``personal`` (an analyst's own), ``group`` or ``everyone``.
    scope: str
    body: str
    #: The support group of a group's module.
    group: str | None
    #: The login whose personal module it is.
    owner: str | None
    created_by: str | None
    updated_at: datetime


Values = Mapping[str, Mapping[str, str]]


def variable_names() -> list[str]:
    """``contact.first_name``, ... as a module writes them."""
    return [f"{root}.{field}" for root, fields in VARIABLES.items() for field in fields]


# --- rendering ------------------------------------------------------------------------


@cache
def _environment() -> ImmutableSandboxedEnvironment:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    # StrictUndefined: a name the module does not know fails, and the text stays as typed.
    return ImmutableSandboxedEnvironment(autoescape=False, undefined=StrictUndefined)


def _allowed(node: Any) -> bool:
    """Whether an expression only reads known values (and filters them plainly)."""
    from jinja2 import nodes

    if isinstance(node, nodes.Getattr):
        root = node.node
        return (
            isinstance(root, nodes.Name)
            and root.name in VARIABLES
            and node.attr in VARIABLES[root.name]
        )
    if isinstance(node, nodes.Filter):
        return (
            node.name in _FILTERS
            and node.node is not None
            and _allowed(node.node)
            and all(_constant(arg) for arg in node.args)
            and not node.kwargs
            and node.dyn_args is None
            and node.dyn_kwargs is None
        )
    if isinstance(node, nodes.Or | nodes.Concat):
        parts = [node.left, node.right] if isinstance(node, nodes.Or) else node.nodes
        return all(_allowed(part) or _constant(part) for part in parts)
    return False


def _constant(node: Any) -> bool:
    from jinja2 import nodes

    if not isinstance(node, nodes.Const):
        return False
    value = node.value
    return (
        value is None
        or isinstance(value, bool)
        or (isinstance(value, str) and len(value) <= _CONST_MAX)
    )


def _expression(inner: str, values: Values) -> str | None:
    """The value ``{{ inner }}`` names, or None to leave it as it was typed."""
    from jinja2 import nodes

    env = _environment()
    try:
        tree = env.parse("{{" + inner + "}}")
    except Exception:
        return None
    if len(tree.body) != 1 or not isinstance(tree.body[0], nodes.Output):
        return None
    output = tree.body[0].nodes
    if len(output) != 1 or not _allowed(output[0]):
        return None
    try:
        # The values are plain strings, handed in as data: nothing in them is rendered.
        rendered = env.from_string("{{" + inner + "}}").render(
            {root: dict(fields) for root, fields in values.items()}
        )
    except Exception:  # the sandbox refused, a value is missing: the text stays as typed
        return None
    return rendered


def render(body: str, values: Values) -> str:
    """The module's text with each known ``{{ value }}`` filled in from ``values``
    (``{"contact": {"first_name": "Ann", ...}, ...}``); everything else as typed."""

    def fill(match: re.Match[str]) -> str:
        value = _expression(match[1], values)
        return match[0] if value is None else value

    return _EXPRESSION.sub(fill, body)


def check_body(body: str | None) -> str:
    """The body as it is saved: cleaned, within the limit, and a template Jinja can read
    (a syntax error is one line naming the line it is on)."""
    from jinja2 import TemplateSyntaxError

    text = long_text(body, field="body", limit=BODY_MAX, required=True)
    try:
        _environment().parse(text)
    except TemplateSyntaxError as exc:
        raise InvalidInput(
            _("the text has a template error on line {line}: {problem}").format(
                line=exc.lineno, problem=clean_line(exc.message or "")
            ),
            field="body",
        ) from None
    return text


def first_name(name: str | None) -> str:
    words = (name or "").split()
    return words[0] if words else ""


def _values(
    *, contact: Contact | None, ticket: Ticket | None, group: str | None, me: Actor
) -> dict[str, dict[str, str]]:
    name = contact.name if contact is not None else ""
    return {
        "contact": {"first_name": first_name(name), "name": name},
        "ticket": {
            "ref": format_ref(ticket.id) if ticket is not None and ticket.id else "",
            "subject": ticket.subject if ticket is not None else "",
            "group": group or "",
        },
        "me": {"name": me.name, "first_name": first_name(me.name)},
    }


def text_values(
    session: Session,
    actor: Actor,
    *,
    ticket: str | int | None = None,
    contact_id: int | None = None,
) -> dict[str, dict[str, str]]:
    """What a module's variables stand for: the ticket's caller and the ticket (or, on the
    intake form, the caller alone) and the analyst acting."""
    row: Ticket | None = None
    group: str | None = None
    if ticket is not None:
        ticket_id = ticket if isinstance(ticket, int) else parse_ref(ticket)
        row = session.get(Ticket, ticket_id)
        if row is None:
            raise NotFound(_("no ticket {ref}").format(ref=format_ref(ticket_id)))
        contact_id = row.contact_id
        if row.group_id is not None:
            found = session.get(SupportGroup, row.group_id)
            group = found.name if found is not None else None
    contact = session.get(Contact, contact_id) if contact_id is not None else None
    return _values(contact=contact, ticket=row, group=group, me=actor)


# --- the modules ----------------------------------------------------------------------


def valid_name(value: str | None) -> str:
    """The name as it is kept (lower case), or why it cannot be one."""
    name = clean_line(value).lower()
    if not name:
        raise InvalidInput(_("a text module needs a name"), field="name")
    if len(name) > NAME_MAX or not _NAME.match(name):
        raise InvalidInput(
            _(
                "{name!r} is not a text module name: one word of letters, digits, '-', '_' "
                "or '.', at most {limit} characters (it is typed after '::')"
            ).format(name=name[:80], limit=NAME_MAX),
            field="name",
        )
    return name


#: Where a module lives, as ``scope`` says it (``--json``/``--csv``).
PERSONAL, GROUP, EVERYONE = "personal", "group", "everyone"


def _scope_key(group_id: int | None, owner_id: int | None) -> int:
    """The ``scope`` column: the group's id, minus the owner's, or 0 for everyone's."""
    if group_id is not None:
        return group_id
    return -owner_id if owner_id is not None else 0


def _may_manage(actor: Actor, group_id: int | None) -> bool:
    """Admins manage every shared module; a supervisor those of their own groups."""
    if actor.is_admin:
        return True
    return actor.is_supervisor and group_id is not None and group_id in actor.group_ids


def _may_change(actor: Actor, row: TextModule, *, removing: bool = False) -> bool:
    """A personal module is its owner's alone; an admin may remove one (an analyst who
    left), never rewrite it. A shared one: ``_may_manage``."""
    if row.owner_id is not None:
        return row.owner_id == actor.id or (removing and actor.is_admin)
    return _may_manage(actor, row.group_id)


def _refuse(module: TextModulePublic | None, group: str | None = None) -> PermissionDenied:
    scope = module.scope if module is not None else (GROUP if group else EVERYONE)
    if scope == PERSONAL:
        return PermissionDenied(_("a personal text module is changed by its owner only"))
    if scope == EVERYONE:
        return PermissionDenied(
            _(
                "only an admin manages the text modules for everyone; "
                "keep one of your own with `deskterm text add NAME --body TEXT`"
            )
        )
    where = group if module is None else module.group
    return PermissionDenied(
        _("only an admin or a supervisor of {group} manages its text modules").format(group=where)
    )


def _visible(actor: Actor) -> Any:
    """The analyst's own modules, everyone's and their groups' (an admin: every group's).
    Nobody sees another analyst's personal modules."""
    shared: Any = col(TextModule.owner_id).is_(None)
    if not actor.is_admin:
        groups: Any = col(TextModule.group_id).is_(None)
        if actor.group_ids:
            groups = or_(groups, col(TextModule.group_id).in_(sorted(actor.group_ids)))
        shared = and_(shared, groups)
    if actor.id is None:
        return shared
    return or_(col(TextModule.owner_id) == actor.id, shared)


def _rank(actor: Actor, row: TextModule) -> int:
    """Which of several modules by one name wins: the analyst's own, then their groups',
    then everyone's, then (for an admin) another group's."""
    if row.owner_id is not None:
        return 0
    if row.group_id is None:
        return 2
    return 1 if row.group_id in actor.group_ids else 3


def _public(session: Session, row: TextModule) -> TextModulePublic:
    assert row.id is not None
    group = session.get(SupportGroup, row.group_id) if row.group_id is not None else None
    owner = session.get(Analyst, row.owner_id) if row.owner_id is not None else None
    author = session.get(Analyst, row.created_by_id) if row.created_by_id is not None else None
    return TextModulePublic(
        id=row.id,
        name=row.name,
        scope=PERSONAL if owner is not None else GROUP if group is not None else EVERYONE,
        body=row.body,
        group=group.name if group is not None else None,
        owner=owner.login if owner is not None else None,
        created_by=author.login if author is not None else None,
        updated_at=row.updated_at,
    )


def _owner(session: Session, actor: Actor, login: str) -> Analyst:
    """The analyst whose personal modules ``--owner`` names: oneself, or anyone for an admin
    (to clear out the modules of an analyst who left)."""
    analyst = analyst_by_login(session, login)
    if analyst.id != actor.id and not actor.is_admin:
        raise PermissionDenied(_("another analyst's personal text modules are theirs alone"))
    return analyst


def _one_scope(group: str | None, everyone: bool, owner: str | None = None) -> None:
    if sum((bool(group), everyone, bool(owner))) > 1:
        if owner:
            problem = _("say one place for a text module: --group, --everyone or --owner")
        else:
            problem = _("say one place for a text module: --group or --everyone, not both")
        raise InvalidInput(problem, field="group")


def _find(
    session: Session,
    actor: Actor,
    name: str,
    *,
    group: str | None = None,
    everyone: bool = False,
    owner: str | None = None,
) -> TextModule:
    """The module called ``name`` in the scope named; with none named, the one the analyst
    sees by that name that wins (their own, one of their groups', everyone's), refused when
    two groups' tie."""
    wanted = valid_name(name)
    _one_scope(group, everyone, owner)
    query = select(TextModule).where(col(TextModule.name) == wanted)
    if owner:
        query = query.where(col(TextModule.owner_id) == _owner(session, actor, owner).id)
    else:
        query = query.where(_visible(actor))
        if group:
            query = query.where(col(TextModule.group_id) == group_by_name(session, group).id)
        elif everyone:
            query = query.where(col(TextModule.scope) == 0)
    rows = sorted(session.scalars(query), key=lambda row: (_rank(actor, row), row.scope))
    if not rows:
        raise NotFound(_("no text module {name!r}").format(name=wanted))
    if (
        len(rows) > 1
        and rows[0].group_id is not None
        and _rank(actor, rows[1]) == _rank(actor, rows[0])
    ):
        raise InvalidInput(
            _("{name!r} is a text module of several groups: say which with --group").format(
                name=wanted
            ),
            field="group",
        )
    return rows[0]


def add_text(
    session: Session,
    actor: Actor,
    *,
    name: str,
    body: str,
    group: str | None = None,
    everyone: bool = False,
) -> TextModulePublic:
    """A new module: the analyst's own, or with ``group``/``everyone`` a shared one (a
    supervisor of the group, an admin)."""
    wanted = valid_name(name)
    _one_scope(group, everyone)
    scope = group_by_name(session, group) if group else None
    if scope is not None or everyone:
        group_id = scope.id if scope is not None else None
        if not _may_manage(actor, group_id):
            raise _refuse(None, scope.name if scope is not None else None)
        owner_id = None
    elif actor.id is None:
        raise InvalidInput(
            _("the system account keeps no text modules of its own: say --group or --everyone"),
            field="group",
        )
    else:
        group_id, owner_id = None, actor.id
    text = check_body(body)
    key = _scope_key(group_id, owner_id)
    taken = session.scalar(
        select(col(TextModule.id)).where(
            col(TextModule.name) == wanted, col(TextModule.scope) == key
        )
    )
    if taken is not None:
        if owner_id is not None:
            problem = _("you have a text module {name!r} already (edit it instead)")
        else:
            problem = _("there is a text module {name!r} for {scope} already (edit it instead)")
        raise InvalidInput(
            problem.format(name=wanted, scope=scope.name if scope else _("everyone")),
            field="name",
        )
    row = TextModule(
        name=wanted,
        body=text,
        group_id=group_id,
        owner_id=owner_id,
        scope=key,
        created_by_id=actor.id,
        updated_at=clock.now(),
    )
    session.add(row)
    session.flush()
    return _public(session, row)


def edit_text(
    session: Session,
    actor: Actor,
    *,
    name: str,
    body: str | None = None,
    new_name: str | None = None,
    group: str | None = None,
    everyone: bool = False,
) -> TextModulePublic:
    """Change a module's text or name; only what is given changes."""
    row = _find(session, actor, name, group=group, everyone=everyone)
    if not _may_change(actor, row):
        raise _refuse(_public(session, row))
    if body is not None:
        row.body = check_body(body)
    if new_name is not None:
        renamed = valid_name(new_name)
        clash = session.scalar(
            select(col(TextModule.id)).where(
                col(TextModule.name) == renamed,
                col(TextModule.id) != row.id,
                col(TextModule.scope) == row.scope,
            )
        )
        if clash is not None:
            raise InvalidInput(
                _("there is a text module {name!r} there already").format(name=renamed),
                field="name",
            )
        row.name = renamed
    row.updated_at = clock.now()
    session.flush()
    return _public(session, row)


def remove_text(
    session: Session,
    actor: Actor,
    *,
    name: str,
    group: str | None = None,
    everyone: bool = False,
    owner: str | None = None,
) -> TextModulePublic:
    """Delete a module; ``owner``: an admin removing an analyst's personal one."""
    row = _find(session, actor, name, group=group, everyone=everyone, owner=owner)
    said = _public(session, row)
    if not _may_change(actor, row, removing=True):
        raise _refuse(said)
    session.delete(row)
    session.flush()
    return said


def show_text(
    session: Session,
    actor: Actor,
    *,
    name: str,
    group: str | None = None,
    everyone: bool = False,
    owner: str | None = None,
) -> TextModulePublic:
    return _public(
        session, _find(session, actor, name, group=group, everyone=everyone, owner=owner)
    )


def list_texts(
    session: Session, actor: Actor, *, owner: str | None = None
) -> list[TextModulePublic]:
    """The modules the analyst sees, by name, each name's in the order they win (their
    own first); ``owner``: an analyst's personal ones (oneself, or anyone for an admin)."""
    query = select(TextModule)
    if owner:
        query = query.where(col(TextModule.owner_id) == _owner(session, actor, owner).id)
    else:
        query = query.where(_visible(actor))
    rows = sorted(session.scalars(query), key=lambda row: (row.name, _rank(actor, row), row.scope))
    return [_public(session, row) for row in rows]


def render_text(
    session: Session,
    actor: Actor,
    *,
    name: str,
    ticket: str | int | None = None,
    group: str | None = None,
    everyone: bool = False,
) -> str:
    """The module ``name`` filled in for ``ticket``'s caller and the analyst acting: the
    one ``::name`` inserts in its note (``pick``), or the one of the scope named."""
    values = text_values(session, actor, ticket=ticket)
    if group or everyone:
        return render(_find(session, actor, name, group=group, everyone=everyone).body, values)
    chosen = pick(list_texts(session, actor), name, values["ticket"]["group"] or None)
    if chosen is None:
        raise NotFound(_("no text module {name!r}").format(name=valid_name(name)))
    return render(chosen.body, values)


def pick(modules: list[TextModulePublic], name: str, group: str | None) -> TextModulePublic | None:
    """Of the modules called ``name`` (in ``list_texts``'s order), the analyst's own, else
    the ticket's group's, else the first (one of their groups', else everyone's)."""
    same = [m for m in modules if m.name == name.strip().lower()]
    if not same or same[0].scope == PERSONAL:
        return same[0] if same else None
    for module in same:
        if group is not None and module.scope == GROUP and module.group == group:
            return module
    return same[0]
