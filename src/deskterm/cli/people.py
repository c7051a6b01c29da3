"""``deskterm analyst|group|contact|category ...``: the people and structure of the desk."""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import TYPE_CHECKING, Annotated

import typer

from deskterm.cli.common import (
    CsvOpt,
    State,
    fail,
    literal,
    out,
    print_json,
    print_rows,
    quoted,
    speak,
    when,
)
from deskterm.i18n import _

if TYPE_CHECKING:
    from rich.table import Table

    from deskterm.desk.schemas import ContactPublic

analyst_app = typer.Typer(help=_("Analysts: add, list, away and back."), no_args_is_help=True)
key_app = typer.Typer(
    help=_("SSH public keys that sign an analyst in to `deskterm serve ssh`."),
    no_args_is_help=True,
)
analyst_app.add_typer(key_app, name="key")
group_app = typer.Typer(
    help=_("Support groups (levels 1-3) and their escalation paths."), no_args_is_help=True
)
contact_app = typer.Typer(
    help=_("Contacts (callers), their organizations and assets."), no_args_is_help=True
)
category_app = typer.Typer(help=_("The category tree."), no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help=_("Print JSON for scripts."))]
NotifyOpt = Annotated[
    str | None,
    typer.Option(
        help=_(
            "Send every message about their cases on these channels: email, sms or email,sms; "
            "default: one message as they prefer (a call if they prefer the phone)."
        )
    ),
]


def _table(*columns: str, flexible: tuple[str, ...] = ()) -> Table:
    """A listing whose ``flexible`` columns give way on a narrow terminal; the others keep
    their full width (see ``show``)."""
    from rich import box
    from rich.cells import cell_len
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for column in columns:
        if column in flexible:
            table.add_column(column, overflow="fold", ratio=1)
        else:
            table.add_column(column, no_wrap=True, min_width=cell_len(column))
    return table


def show(table: Table) -> None:
    """Print ``table``; a fixed column is never cut (Rich would shrink every column)."""
    from rich.cells import cell_len

    for column in table.columns:
        if column.min_width is not None:
            widest = max((cell_len(str(cell)) for cell in column.cells), default=0)
            column.min_width = max(column.min_width, widest)
    out.print(table)


# --------------------------------------------------------------------------- analysts


@analyst_app.command(
    "add",
    help=_("Add an analyst (admins only; on an empty desk the first analyst becomes admin)."),
)
def analyst_add(
    ctx: typer.Context,
    login: Annotated[str, typer.Argument(help=_("Login name (lower case)."))],
    name: Annotated[str, typer.Option(help=_("Full name, as callers hear it."))],
    role: Annotated[str, typer.Option(help=_("agent, technician, supervisor or admin."))] = "agent",
    level: Annotated[int, typer.Option(help=_("Support level 1-3."))] = 1,
    group: Annotated[
        list[str] | None, typer.Option("--group", "-g", help=_("A group; repeat for several."))
    ] = None,
    email: Annotated[str | None, typer.Option(help=_("Email address."))] = None,
    extension: Annotated[
        str | None,
        typer.Option(help=_("The phone extension the PBX rings them on (`deskterm serve cti`).")),
    ] = None,
    language: Annotated[
        str | None,
        typer.Option(
            metavar="TAG",
            help=_(
                "The language deskterm speaks to them: en, de, pt, pt-BR, pt-PT or cs "
                "(default: their terminal's locale)."
            ),
        ),
    ] = None,
    create_role: Annotated[
        bool,
        typer.Option(
            "--create-role",
            help=_(
                "PostgreSQL: also make the database login LOGIN (no password) with the "
                "rights the app needs, for identity = database."
            ),
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    from deskterm.desk.analysts import add_analyst, add_analyst_with_extension
    from deskterm.desk.identity import add_analyst_with_login

    state: State = ctx.obj
    desk = state.desk()
    role_created: bool | None = None
    if create_role:
        added = desk.bootstrap(
            add_analyst_with_extension,
            add_analyst_with_login,
            login=login,
            name=name,
            role=role,
            level=level,
            groups=group or [],
            email=email,
            extension=extension,
            language=language,
        )
        analyst, role_created = added.analyst, added.role_created
    else:
        analyst = desk.bootstrap(
            add_analyst,
            login=login,
            name=name,
            role=role,
            level=level,
            groups=group or [],
            email=email,
            extension=extension,
            language=language,
        )
    if as_json:
        print_json(
            {
                **analyst.to_json(),
                "extension": extension.strip() if extension else None,
                **({"role_created": role_created} if create_role else {}),
            }
        )
        return
    from deskterm.domain.enums import role_label

    groups = ", ".join(analyst.groups) or _("no group")
    said = _("added {login} ({name}), {role} L{level}, {groups}").format(
        login=analyst.login,
        name=analyst.name,
        role=role_label(analyst.role),
        level=analyst.level,
        groups=groups,
    )
    if analyst.language:
        said = _("{said}; speaks {language}").format(said=said, language=analyst.language)
    out.print(literal(said))
    if role_created:
        out.print(
            literal(
                _(
                    "created the database login {login} with the desk's rights; it has no "
                    "password yet: set one in psql (\\password {login}) or let pg_hba.conf "
                    "sign it in (peer, certificate)"
                ).format(login=analyst.login)
            ),
            soft_wrap=True,
        )
    elif create_role:
        out.print(
            literal(
                _("gave the existing database login {login} the desk's rights").format(
                    login=analyst.login
                )
            )
        )


@analyst_app.command(
    "edit",
    help=_(
        "Change an analyst's settings: their phone extension (`deskterm serve cti`) and the "
        "language deskterm speaks to them."
    ),
)
def analyst_edit(
    ctx: typer.Context,
    login: Annotated[str, typer.Argument(help=_("Whose."))],
    extension: Annotated[
        str | None,
        typer.Option(
            help=_("The phone extension the PBX rings them on ('' for none); supervisors only.")
        ),
    ] = None,
    language: Annotated[
        str | None,
        typer.Option(
            metavar="TAG",
            help=_(
                "The language deskterm speaks to them: en, de, pt, pt-BR, pt-PT or cs ('' for "
                "their terminal's locale)."
            ),
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    from deskterm.desk.analysts import edit_analyst
    from deskterm.domain.errors import InvalidInput

    if extension is None and language is None:
        raise InvalidInput(
            _("nothing to change: give --extension or --language"), field="extension"
        )
    state: State = ctx.obj
    desk = state.desk()
    # Both in one transaction: a refusal of either changes neither.
    analyst = desk.write(edit_analyst, login=login, language=language, extension=extension)
    if language is not None and desk.actor is not None and desk.actor.id == analyst.id:
        # Their own language changed: say so in the new one.
        speak(replace(desk.actor, language=analyst.language))
    who = analyst.login
    done: dict[str, str | None] = {"login": who}
    if extension is not None:
        done["extension"] = extension.strip() or None
    if language is not None:
        done["language"] = analyst.language
    if as_json:
        print_json(done)
        return
    if "extension" in done:
        value = done["extension"]
        out.print(
            literal(
                _("{login} has extension {extension}").format(login=who, extension=value)
                if value
                else _("{login} has no extension").format(login=who)
            )
        )
    if "language" in done:
        from deskterm.i18n import language_name

        tag = done["language"]
        out.print(
            literal(
                _("{login} reads deskterm in {language}").format(
                    login=who, language=language_name(tag)
                )
                if tag
                else _("{login} reads deskterm in their terminal's language").format(login=who)
            )
        )


@analyst_app.command(
    "list", help=_("List analysts with their groups, availability and open workload.")
)
def analyst_list(
    ctx: typer.Context,
    group: Annotated[str | None, typer.Option(help=_("Only members of this group."))] = None,
    all_: Annotated[bool, typer.Option("--all", help=_("Include deactivated analysts."))] = False,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    from deskterm.desk.analysts import list_analysts
    from deskterm.domain.enums import role_label

    state: State = ctx.obj
    rows = state.desk().read(list_analysts, group=group, include_inactive=all_)
    if print_rows(rows, as_json=as_json, as_csv=as_csv, of=list_analysts):
        return
    # Translators: column headers of `deskterm analyst list` ("Lvl": support level 1-3;
    # "Open": how many open tickets they hold; "Lang": the language deskterm speaks to them).
    name, groups, available = _("Name"), _("Groups"), _("Available")
    # The language column only where someone has one: 80 columns hold the rest unbroken.
    languages = any(a.language for a in rows)
    headers = [_("Login"), name, _("Role"), _("Lvl"), groups, available, _("Open")]
    table = _table(
        *headers, *([_("Lang")] if languages else []), flexible=(name, groups, available)
    )
    for a in rows:
        away = (
            _("yes")
            if a.availability == "available"
            else _("away → {backup}").format(backup=a.backup or _("no backup"))
        )
        table.add_row(
            a.login,
            literal(a.name),
            role_label(a.role),
            str(a.level),
            literal(", ".join(a.groups)),
            literal(away),
            str(a.open_tickets),
            *([a.language or "-"] if languages else []),
        )
    show(table)


@analyst_app.command(
    "away", help=_("Mark an analyst away; tickets meant for them go to the backup.")
)
def analyst_away(
    ctx: typer.Context,
    login: Annotated[str | None, typer.Argument(help=_("Who (default: you)."))] = None,
    backup: Annotated[
        str | None, typer.Option(help=_("Who takes their new tickets meanwhile."))
    ] = None,
    reason: Annotated[
        str | None,
        typer.Option(help=_("Why, e.g. 'holiday until Monday' (for colleagues, internal).")),
    ] = None,
    handover: Annotated[
        bool,
        typer.Option(
            "--handover",
            help=_(
                "Also hand their open tickets to the backup now (each customer is told who "
                "has the case and that their analyst is away; never --reason)."
            ),
        ),
    ] = False,
    tell_customer: Annotated[
        str | None,
        typer.Option(
            "--tell-customer",
            help=_("With --handover: words for the customers, added to their message."),
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    from deskterm.desk.away import go_away

    state: State = ctx.obj
    result = state.desk().write(
        go_away,
        login=login,
        backup=backup,
        reason=reason,
        handover=handover,
        public_reason=tell_customer,
    )
    analyst = result.analyst
    if as_json:
        print_json({**analyst.to_json(), "handed_over": [t.ref for t in result.handed_over]})
        return
    out.print(
        literal(
            _("{login} is away; backup: {backup}").format(
                login=analyst.login, backup=analyst.backup or _("none")
            )
        )
    )
    if handover:
        holders = sorted({t.assignee or "" for t in result.handed_over}) or [analyst.backup or ""]
        refs = ", ".join(t.ref for t in result.handed_over) or _("none were open")
        out.print(
            literal(
                _("handed to {holders}: {refs}").format(
                    holders=", ".join(h for h in holders if h), refs=refs
                )
            )
        )


@analyst_app.command("back", help=_("Mark an analyst available again."))
def analyst_back(
    ctx: typer.Context,
    login: Annotated[str | None, typer.Argument(help=_("Who (default: you)."))] = None,
    as_json: JsonOpt = False,
) -> None:
    from deskterm.desk.analysts import set_back

    state: State = ctx.obj
    analyst = state.desk().write(set_back, login=login)
    if as_json:
        print_json(analyst.to_json())
        return
    out.print(literal(_("{login} is available").format(login=analyst.login)))


# --------------------------------------------------------------------------- SSH keys


def _key_text(path: str) -> str:
    """The key file's text (``-``: standard input); a file that cannot be read is refused in
    one line, and so is one that is no text (a key file is ASCII)."""
    from deskterm.domain.errors import InvalidInput
    from deskterm.domain.sshkeys import TEXT_MAX

    try:
        if path == "-":
            data = sys.stdin.buffer.read(TEXT_MAX + 1)
        else:
            with open(path, "rb") as handle:
                data = handle.read(TEXT_MAX + 1)
    except OSError as exc:
        raise InvalidInput(
            _("cannot read {where}: {reason}").format(where=path, reason=exc.strerror or exc),
            field="key",
        ) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(
            _(
                "{where} is not a text file: give a public key file like ~/.ssh/id_ed25519.pub"
            ).format(where=_("standard input") if path == "-" else path),
            field="key",
        ) from None


@key_app.command(
    "add",
    help=_(
        "Let an analyst in to `deskterm serve ssh` with a key (admins, or the analyst their own)."
    ),
)
def key_add(
    ctx: typer.Context,
    login: Annotated[str, typer.Argument(help=_("Whose key it is."))],
    pubkey_file: Annotated[
        str,
        typer.Argument(
            metavar="PUBKEY_FILE",
            help=_(
                "An OpenSSH public key file (id_ed25519.pub), or several keys one a line "
                "(authorized_keys style); - reads standard input."
            ),
        ),
    ],
    comment: Annotated[
        str | None,
        typer.Option(help=_("A label for the key(s), instead of the file's comment.")),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    from deskterm.desk.keys import add_keys

    state: State = ctx.obj
    keys = state.desk().write(add_keys, login=login, text=_key_text(pubkey_file), comment=comment)
    if as_json:
        print_json([k.to_json() for k in keys])
        return
    for k in keys:
        label = f", {k.comment}" if k.comment else ""
        out.print(
            literal(
                _("added {fingerprint} ({algorithm}{label}) for {login}").format(
                    fingerprint=k.fingerprint, algorithm=k.algorithm, label=label, login=k.login
                )
            ),
            soft_wrap=True,
        )


@key_app.command(
    "list", help=_("List SSH keys with their fingerprints and when each last signed in.")
)
def key_list(
    ctx: typer.Context,
    login: Annotated[
        str | None, typer.Argument(help=_("Whose keys (default: all you may see)."))
    ] = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    from deskterm.desk.keys import list_keys
    from deskterm.domain.sshkeys import key_label

    state: State = ctx.obj
    rows = state.desk().read(list_keys, login=login)
    if print_rows(rows, as_json=as_json, as_csv=as_csv, of=list_keys):
        return
    if not rows:
        said = (
            _("No SSH keys: {login} has none (add one with `deskterm analyst key add`).").format(
                login=login
            )
            if login
            else _(
                "No SSH keys: no analyst you may see has none (add one with "
                "`deskterm analyst key add`)."
            )
        )
        out.print(literal(said), soft_wrap=True)
        return
    # The id and fingerprint are what `key remove` takes: they keep their width, and the
    # comment, last, is cut short on a narrow terminal rather than folded letter by letter.
    table = _table(_("Id"), _("Login"), _("Fingerprint"), _("Type"), _("Added"), _("Last used"))
    table.add_column(_("Comment"), no_wrap=True, overflow="ellipsis", ratio=1)
    for k in rows:
        table.add_row(
            f"#{k.id}",
            k.login,
            k.fingerprint,
            key_label(k.algorithm),
            when(k.added_at),
            when(k.last_used_at) if k.last_used_at else _("never"),
            literal(k.comment or "-"),
        )
    show(table)


@key_app.command(
    "remove",
    help=_("Stop a key from signing in (takes effect for the next connection at once)."),
)
def key_remove(
    ctx: typer.Context,
    login: Annotated[str, typer.Argument(help=_("Whose key."))],
    key: Annotated[
        str, typer.Argument(help=_("The key's fingerprint (SHA256:...) or id (#12), as listed."))
    ],
    as_json: JsonOpt = False,
) -> None:
    from deskterm.desk.keys import remove_key

    state: State = ctx.obj
    removed = state.desk().write(remove_key, login=login, key=key)
    if as_json:
        print_json(removed.to_json())
        return
    out.print(
        literal(
            _("removed {fingerprint} ({algorithm}) of {login}").format(
                fingerprint=removed.fingerprint, algorithm=removed.algorithm, login=removed.login
            )
        ),
        soft_wrap=True,
    )


# --------------------------------------------------------------------------- groups


@group_app.command("list", help=_("List groups with their level, escalation path and members."))
def group_list(
    ctx: typer.Context,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    from deskterm.desk.analysts import list_groups

    state: State = ctx.obj
    rows = state.desk().read(list_groups)
    if print_rows(rows, as_json=as_json, as_csv=as_csv, of=list_groups):
        return
    escalates, description = _("Escalates to"), _("Description")
    table = _table(
        _("Group"),
        _("Lvl"),
        escalates,
        _("Members"),
        description,
        flexible=(escalates, description),
    )
    for g in rows:
        table.add_row(
            literal(g.name),
            str(g.level),
            literal(g.escalates_to or "-"),
            str(g.members),
            literal(g.description or ""),
        )
    show(table)


@group_app.command("add", help=_("Add a support group (admins only)."))
def group_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help=_("Group name."))],
    level: Annotated[int, typer.Option(help=_("Support level 1-3."))] = 1,
    escalates_to: Annotated[
        str | None, typer.Option(help=_("Group its tickets escalate to."))
    ] = None,
    description: Annotated[str | None, typer.Option(help=_("What the group does."))] = None,
    as_json: JsonOpt = False,
) -> None:
    from deskterm.desk.analysts import add_group

    state: State = ctx.obj
    group = state.desk().write(
        add_group, name=name, level=level, escalates_to=escalates_to, description=description
    )
    if as_json:
        print_json(group.to_json())
        return
    out.print(
        literal(_("added group {name} (L{level})").format(name=group.name, level=group.level))
    )


# --------------------------------------------------------------------------- contacts


@contact_app.command("add", help=_("Add a contact."))
def contact_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Option(help=_("Full name."))],
    email: Annotated[str | None, typer.Option(help=_("Email address."))] = None,
    phone: Annotated[str | None, typer.Option(help=_("Desk phone."))] = None,
    mobile: Annotated[str | None, typer.Option(help=_("Mobile phone."))] = None,
    org: Annotated[
        str | None, typer.Option("--org", help=_("Organization (created if new)."))
    ] = None,
    location: Annotated[str | None, typer.Option(help=_("Site, building, room."))] = None,
    language: Annotated[
        str | None, typer.Option(help=_("Preferred language, e.g. en or de."))
    ] = None,
    vip: Annotated[bool, typer.Option("--vip", help=_("Mark as a VIP."))] = False,
    prefer: Annotated[
        str | None,
        typer.Option(help=_("How they want to hear about their cases: email, sms or phone.")),
    ] = None,
    notify: NotifyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    from deskterm.desk.contacts import add_contact

    state: State = ctx.obj
    contact = state.desk().write(
        add_contact,
        name=name,
        email=email,
        phone=phone,
        mobile=mobile,
        organization=org,
        location=location,
        language=language,
        vip=vip,
        preferred_channel=prefer,
        notify=notify,
        region=_phone_region(),
    )
    if as_json:
        print_json(contact.to_json())
        return
    out.print(literal(_("added contact #{id} {name}").format(id=contact.id, name=contact.name)))


@contact_app.command(
    "edit",
    help=_(
        "Change a contact's addresses, language and how they hear from us; "
        "an empty value clears a field."
    ),
)
def contact_edit(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help=_("Id (#12), phone, email or exact name."))],
    email: Annotated[str | None, typer.Option(help=_("Email address."))] = None,
    phone: Annotated[str | None, typer.Option(help=_("Desk phone."))] = None,
    mobile: Annotated[str | None, typer.Option(help=_("Mobile phone."))] = None,
    location: Annotated[str | None, typer.Option(help=_("Site, building, room."))] = None,
    language: Annotated[
        str | None, typer.Option(help=_("Preferred language, e.g. en or de."))
    ] = None,
    prefer: Annotated[
        str | None,
        typer.Option(help=_("How they want to hear about their cases: email, sms or phone.")),
    ] = None,
    notify: NotifyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    from deskterm.desk.contacts import edit_contact

    given = (email, phone, mobile, location, language, prefer, notify)
    if all(value is None for value in given):
        fail(
            _(
                "nothing to change: give --email, --phone, --mobile, --location, "
                "--language, --prefer or --notify"
            )
        )
    state: State = ctx.obj
    c = state.desk().write(
        edit_contact,
        key=key,
        email=email,
        phone=phone,
        mobile=mobile,
        location=location,
        language=language,
        preferred_channel=prefer,
        notify=notify,
        region=_phone_region(),
    )
    if as_json:
        print_json(c.to_json())
        return
    out.print(literal(_("#{id} {name}: {told}").format(id=c.id, name=c.name, told=_told_words(c))))


def _told_words(c: ContactPublic) -> str:
    """How the contact hears about their cases, as ``contact show`` says it."""
    if c.notify:
        return _("every message by {channels}").format(channels=" + ".join(c.notify))
    if c.preferred_channel == "phone":
        return _("a call instead of messages (prefers the phone)")
    if c.preferred_channel == "sms" and c.mobile:
        return _("messages by sms (as preferred)")
    if c.email:
        return _("messages by email (as preferred)")
    if c.mobile:
        return _("messages by sms (no email address)")
    return _("no way to send messages (no email address or mobile number)")


@contact_app.command("asset", help=_("Record an asset (device, licence, account) a contact uses."))
def contact_asset(
    ctx: typer.Context,
    contact: Annotated[str, typer.Argument(help=_("The contact: id (#12), phone, email or name."))],
    kind: Annotated[str, typer.Option(help=_("hardware, software, licence, account or service."))],
    product: Annotated[str, typer.Option(help=_("Product name, e.g. 'ThinkPad T14'."))],
    model: Annotated[str | None, typer.Option(help=_("Model number."))] = None,
    serial: Annotated[str | None, typer.Option(help=_("Serial number."))] = None,
    account: Annotated[str | None, typer.Option(help=_("Licence or account number."))] = None,
    as_json: JsonOpt = False,
) -> None:
    from deskterm.desk.contacts import add_asset

    state: State = ctx.obj
    asset = state.desk().write(
        add_asset,
        contact=contact,
        kind=kind,
        product=product,
        model_number=model,
        serial_number=serial,
        account_number=account,
    )
    if as_json:
        print_json(asset.to_json())
        return
    out.print(literal(_("added asset #{id} {product}").format(id=asset.id, product=asset.product)))


def _contacts_table(rows: list) -> Table:
    name, organization, email = _("Name"), _("Organization"), _("Email")
    table = _table(
        _("Id"),
        name,
        organization,
        _("Phone"),
        email,
        _("Open"),
        flexible=(name, organization, email),
    )
    for c in rows:
        table.add_row(
            f"#{c.id}",
            literal(c.name),
            literal(c.organization or "-"),
            literal(c.phone or c.mobile or "-"),
            literal(c.email or "-"),
            str(c.open_tickets),
        )
    return table


@contact_app.command("list", help=_("List contacts by name."))
def contact_list(
    ctx: typer.Context,
    org: Annotated[str | None, typer.Option("--org", help=_("Only this organization."))] = None,
    limit: Annotated[int, typer.Option(help=_("At most this many (1-1000)."))] = 50,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    from deskterm.desk.contacts import list_contacts

    state: State = ctx.obj
    rows = state.desk().read(list_contacts, organization=org, limit=limit)
    if print_rows(rows, as_json=as_json, as_csv=as_csv, of=list_contacts):
        return
    if rows:
        show(_contacts_table(rows))
    else:
        out.print(_("No contacts."))


def _phone_region() -> str:
    """Where a number without a country code is: the ``phone_region`` setting."""
    from deskterm.config import load_settings

    return load_settings().phone_region


@contact_app.command(
    "find", help=_("Find callers the way they introduce themselves, best match first.")
)
def contact_find(
    ctx: typer.Context,
    text: Annotated[
        str,
        typer.Argument(
            help=_(
                "Any word of the name (or its start, or spelt alike), organization, "
                "phone in any format or 4+ of its digits, email, its start or its domain."
            )
        ),
    ],
    limit: Annotated[int, typer.Option(help=_("At most this many."))] = 20,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    from deskterm.desk.contacts import find_contacts

    state: State = ctx.obj
    rows = state.desk().read(find_contacts, text=text, limit=limit, region=_phone_region())
    if print_rows(rows, as_json=as_json, as_csv=as_csv, of=find_contacts):
        return
    if rows:
        show(_contacts_table(rows))
    else:
        out.print(literal(_("No contact matches {text}.").format(text=quoted(text))))


@contact_app.command(
    "rename", help=_("Correct a contact's name: found by its new words, listed in its place.")
)
def contact_rename(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help=_("Id (#12), phone, email or exact name."))],
    name: Annotated[str, typer.Argument(help=_("The name from now on."))],
    as_json: JsonOpt = False,
) -> None:
    from deskterm.desk.contacts import rename_contact

    state: State = ctx.obj
    c = state.desk().write(rename_contact, key=key, name=name)
    if as_json:
        print_json(c.to_json())
        return
    out.print(literal(_("#{id} is now {name}").format(id=c.id, name=c.name)))


@contact_app.command("show", help=_("Show a contact with their assets."))
def contact_show(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help=_("Id (#12), phone, email or exact name."))],
    as_json: JsonOpt = False,
) -> None:
    from rich.table import Table

    from deskterm.desk.contacts import get_contact

    state: State = ctx.obj
    c = state.desk().read(get_contact, key=key)
    if as_json:
        print_json(c.to_json())
        return
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim")
    grid.add_column()
    for label, value in (
        (_("Contact"), f"#{c.id} {c.name}" + (" " + _("(VIP)") if c.vip else "")),
        (_("Organization"), c.organization),
        (_("Phone"), c.phone),
        (_("Mobile"), c.mobile),
        (_("Email"), c.email),
        (_("Location"), c.location),
        (_("Language"), c.language),
        (_("Notified by"), _told_words(c)),
        (_("Open tickets"), str(c.open_tickets)),
    ):
        if value:
            grid.add_row(label, literal(value))
    for a in c.assets:
        details = " ".join(x for x in (a.model_number, a.serial_number, a.account_number) if x)
        grid.add_row(
            _("Asset #{id}").format(id=a.id),
            literal(f"{a.kind}: {a.product} {details}".strip()),
        )
    out.print(grid)


# --------------------------------------------------------------------------- categories


@category_app.command("list", help=_("List the category tree with each category's group."))
def category_list(
    ctx: typer.Context,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    from deskterm.desk.setup import list_categories

    state: State = ctx.obj
    rows = state.desk().read(list_categories)
    if print_rows(rows, as_json=as_json, as_csv=as_csv, of=list_categories):
        return
    table = _table(_("Category"), _("Group"))
    for c in rows:
        depth = c.path.count(" > ")
        table.add_row(literal("  " * depth + c.path.rsplit(" > ", 1)[-1]), literal(c.group or "-"))
    show(table)
