"""``deskterm analyst|group|contact|category ...``: the people and structure of the desk."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from deskterm.cli.common import State, literal, out, print_json, quoted, when

if TYPE_CHECKING:
    from rich.table import Table

analyst_app = typer.Typer(help="Analysts: add, list, away and back.", no_args_is_help=True)
key_app = typer.Typer(
    help="SSH public keys that sign an analyst in to `deskterm serve ssh`.", no_args_is_help=True
)
analyst_app.add_typer(key_app, name="key")
group_app = typer.Typer(
    help="Support groups (levels 1-3) and their escalation paths.", no_args_is_help=True
)
contact_app = typer.Typer(
    help="Contacts (callers), their organizations and assets.", no_args_is_help=True
)
category_app = typer.Typer(help="The category tree.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


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


@analyst_app.command("add")
def analyst_add(
    ctx: typer.Context,
    login: Annotated[str, typer.Argument(help="Login name (lower case).")],
    name: Annotated[str, typer.Option(help="Full name, as callers hear it.")],
    role: Annotated[str, typer.Option(help="agent, technician, supervisor or admin.")] = "agent",
    level: Annotated[int, typer.Option(help="Support level 1-3.")] = 1,
    group: Annotated[
        list[str] | None, typer.Option("--group", "-g", help="A group; repeat for several.")
    ] = None,
    email: Annotated[str | None, typer.Option(help="Email address.")] = None,
    extension: Annotated[
        str | None,
        typer.Option(help="The phone extension the PBX rings them on (`deskterm serve cti`)."),
    ] = None,
    create_role: Annotated[
        bool,
        typer.Option(
            "--create-role",
            help="PostgreSQL: also make the database login LOGIN (no password) with the "
            "rights the app needs, for identity = database.",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Add an analyst (admins only; on an empty desk the first analyst becomes admin)."""
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
    groups = ", ".join(analyst.groups) or "no group"
    out.print(
        literal(
            f"added {analyst.login} ({analyst.name}), {analyst.role} L{analyst.level}, {groups}"
        )
    )
    if role_created:
        out.print(
            literal(
                f"created the database login {analyst.login} with the desk's rights; it has no "
                f"password yet: set one in psql (\\password {analyst.login}) or let pg_hba.conf "
                "sign it in (peer, certificate)"
            ),
            soft_wrap=True,
        )
    elif create_role:
        out.print(literal(f"gave the existing database login {analyst.login} the desk's rights"))


@analyst_app.command("edit")
def analyst_edit(
    ctx: typer.Context,
    login: Annotated[str, typer.Argument(help="Whose.")],
    extension: Annotated[
        str | None,
        typer.Option(
            help="The phone extension the PBX rings them on ('' for none); supervisors only."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Change an analyst's settings: their phone extension (`deskterm serve cti`)."""
    from deskterm.desk.cti import set_extension
    from deskterm.domain.errors import InvalidInput

    if extension is None:
        raise InvalidInput("nothing to change: give --extension", field="extension")
    state: State = ctx.obj
    value = state.desk().write(set_extension, login=login, extension=extension)
    if as_json:
        print_json({"login": login.strip().lower(), "extension": value})
        return
    said = f"extension {value}" if value else "no extension"
    out.print(literal(f"{login.strip().lower()} has {said}"))


@analyst_app.command("list")
def analyst_list(
    ctx: typer.Context,
    group: Annotated[str | None, typer.Option(help="Only members of this group.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Include deactivated analysts.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """List analysts with their groups, availability and open workload."""
    from deskterm.desk.analysts import list_analysts

    state: State = ctx.obj
    rows = state.desk().read(list_analysts, group=group, include_inactive=all_)
    if as_json:
        print_json([a.to_json() for a in rows])
        return
    table = _table(
        "Login",
        "Name",
        "Role",
        "Lvl",
        "Groups",
        "Available",
        "Open",
        flexible=("Name", "Groups", "Available"),
    )
    for a in rows:
        away = "yes" if a.availability == "available" else f"away → {a.backup or 'no backup'}"
        table.add_row(
            a.login,
            literal(a.name),
            a.role,
            str(a.level),
            literal(", ".join(a.groups)),
            away,
            str(a.open_tickets),
        )
    show(table)


@analyst_app.command("away")
def analyst_away(
    ctx: typer.Context,
    login: Annotated[str | None, typer.Argument(help="Who (default: you).")] = None,
    backup: Annotated[
        str | None, typer.Option(help="Who takes their new tickets meanwhile.")
    ] = None,
    reason: Annotated[
        str | None,
        typer.Option(help="Why, e.g. 'holiday until Monday' (for colleagues, internal)."),
    ] = None,
    handover: Annotated[
        bool,
        typer.Option(
            "--handover",
            help="Also hand their open tickets to the backup now (each customer is told who "
            "has the case and that their analyst is away; never --reason).",
        ),
    ] = False,
    tell_customer: Annotated[
        str | None,
        typer.Option(
            "--tell-customer",
            help="With --handover: words for the customers, added to their message.",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Mark an analyst away; tickets meant for them go to the backup."""
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
    out.print(literal(f"{analyst.login} is away; backup: {analyst.backup or 'none'}"))
    if handover:
        holders = sorted({t.assignee or "" for t in result.handed_over}) or [analyst.backup or ""]
        refs = ", ".join(t.ref for t in result.handed_over) or "none were open"
        out.print(literal(f"handed to {', '.join(h for h in holders if h)}: {refs}"))


@analyst_app.command("back")
def analyst_back(
    ctx: typer.Context,
    login: Annotated[str | None, typer.Argument(help="Who (default: you).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Mark an analyst available again."""
    from deskterm.desk.analysts import set_back

    state: State = ctx.obj
    analyst = state.desk().write(set_back, login=login)
    if as_json:
        print_json(analyst.to_json())
        return
    out.print(literal(f"{analyst.login} is available"))


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
        raise InvalidInput(f"cannot read {path}: {exc.strerror or exc}", field="key") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(
            f"{'standard input' if path == '-' else path} is not a text file: give a public key "
            "file like ~/.ssh/id_ed25519.pub",
            field="key",
        ) from None


@key_app.command("add")
def key_add(
    ctx: typer.Context,
    login: Annotated[str, typer.Argument(help="Whose key it is.")],
    pubkey_file: Annotated[
        str,
        typer.Argument(
            metavar="PUBKEY_FILE",
            help="An OpenSSH public key file (id_ed25519.pub), or several keys one a line "
            "(authorized_keys style); - reads standard input.",
        ),
    ],
    comment: Annotated[
        str | None, typer.Option(help="A label for the key(s), instead of the file's comment.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Let an analyst in to `deskterm serve ssh` with a key (admins, or the analyst their own)."""
    from deskterm.desk.keys import add_keys

    state: State = ctx.obj
    keys = state.desk().write(add_keys, login=login, text=_key_text(pubkey_file), comment=comment)
    if as_json:
        print_json([k.to_json() for k in keys])
        return
    for k in keys:
        label = f", {k.comment}" if k.comment else ""
        out.print(
            literal(f"added {k.fingerprint} ({k.algorithm}{label}) for {k.login}"), soft_wrap=True
        )


@key_app.command("list")
def key_list(
    ctx: typer.Context,
    login: Annotated[
        str | None, typer.Argument(help="Whose keys (default: all you may see).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """List SSH keys with their fingerprints and when each last signed in."""
    from deskterm.desk.keys import list_keys
    from deskterm.domain.sshkeys import key_label

    state: State = ctx.obj
    rows = state.desk().read(list_keys, login=login)
    if as_json:
        print_json([k.to_json() for k in rows])
        return
    if not rows:
        whose = f"{login} has" if login else "no analyst you may see has"
        out.print(
            literal(f"No SSH keys: {whose} none (add one with `deskterm analyst key add`)."),
            soft_wrap=True,
        )
        return
    # The id and fingerprint are what `key remove` takes: they keep their width, and the
    # comment, last, is cut short on a narrow terminal rather than folded letter by letter.
    table = _table("Id", "Login", "Fingerprint", "Type", "Added", "Last used")
    table.add_column("Comment", no_wrap=True, overflow="ellipsis", ratio=1)
    for k in rows:
        table.add_row(
            f"#{k.id}",
            k.login,
            k.fingerprint,
            key_label(k.algorithm),
            when(k.added_at),
            when(k.last_used_at) if k.last_used_at else "never",
            literal(k.comment or "-"),
        )
    show(table)


@key_app.command("remove")
def key_remove(
    ctx: typer.Context,
    login: Annotated[str, typer.Argument(help="Whose key.")],
    key: Annotated[
        str, typer.Argument(help="The key's fingerprint (SHA256:...) or id (#12), as listed.")
    ],
    as_json: JsonOpt = False,
) -> None:
    """Stop a key from signing in (takes effect for the next connection at once)."""
    from deskterm.desk.keys import remove_key

    state: State = ctx.obj
    removed = state.desk().write(remove_key, login=login, key=key)
    if as_json:
        print_json(removed.to_json())
        return
    out.print(
        literal(f"removed {removed.fingerprint} ({removed.algorithm}) of {removed.login}"),
        soft_wrap=True,
    )


# --------------------------------------------------------------------------- groups


@group_app.command("list")
def group_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List groups with their level, escalation path and members."""
    from deskterm.desk.analysts import list_groups

    state: State = ctx.obj
    rows = state.desk().read(list_groups)
    if as_json:
        print_json([g.to_json() for g in rows])
        return
    table = _table(
        "Group",
        "Lvl",
        "Escalates to",
        "Members",
        "Description",
        flexible=("Escalates to", "Description"),
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


@group_app.command("add")
def group_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Group name.")],
    level: Annotated[int, typer.Option(help="Support level 1-3.")] = 1,
    escalates_to: Annotated[str | None, typer.Option(help="Group its tickets escalate to.")] = None,
    description: Annotated[str | None, typer.Option(help="What the group does.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a support group (admins only)."""
    from deskterm.desk.analysts import add_group

    state: State = ctx.obj
    group = state.desk().write(
        add_group, name=name, level=level, escalates_to=escalates_to, description=description
    )
    if as_json:
        print_json(group.to_json())
        return
    out.print(literal(f"added group {group.name} (L{group.level})"))


# --------------------------------------------------------------------------- contacts


@contact_app.command("add")
def contact_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Option(help="Full name.")],
    email: Annotated[str | None, typer.Option(help="Email address.")] = None,
    phone: Annotated[str | None, typer.Option(help="Desk phone.")] = None,
    mobile: Annotated[str | None, typer.Option(help="Mobile phone.")] = None,
    org: Annotated[str | None, typer.Option("--org", help="Organization (created if new).")] = None,
    location: Annotated[str | None, typer.Option(help="Site, building, room.")] = None,
    language: Annotated[str | None, typer.Option(help="Preferred language, e.g. en or de.")] = None,
    vip: Annotated[bool, typer.Option("--vip", help="Mark as a VIP.")] = False,
    prefer: Annotated[
        str | None,
        typer.Option(help="How they want to hear about their cases: email, sms or phone."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a contact."""
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
        region=_phone_region(),
    )
    if as_json:
        print_json(contact.to_json())
        return
    out.print(literal(f"added contact #{contact.id} {contact.name}"))


@contact_app.command("asset")
def contact_asset(
    ctx: typer.Context,
    contact: Annotated[str, typer.Argument(help="The contact: id (#12), phone, email or name.")],
    kind: Annotated[str, typer.Option(help="hardware, software, licence, account or service.")],
    product: Annotated[str, typer.Option(help="Product name, e.g. 'ThinkPad T14'.")],
    model: Annotated[str | None, typer.Option(help="Model number.")] = None,
    serial: Annotated[str | None, typer.Option(help="Serial number.")] = None,
    account: Annotated[str | None, typer.Option(help="Licence or account number.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Record an asset (device, licence, account) a contact uses."""
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
    out.print(literal(f"added asset #{asset.id} {asset.product}"))


def _contacts_table(rows: list) -> Table:
    table = _table(
        "Id",
        "Name",
        "Organization",
        "Phone",
        "Email",
        "Open",
        flexible=("Name", "Organization", "Email"),
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


@contact_app.command("list")
def contact_list(
    ctx: typer.Context,
    org: Annotated[str | None, typer.Option("--org", help="Only this organization.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many (1-1000).")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """List contacts by name."""
    from deskterm.desk.contacts import list_contacts

    state: State = ctx.obj
    rows = state.desk().read(list_contacts, organization=org, limit=limit)
    if as_json:
        print_json([c.to_json() for c in rows])
        return
    if rows:
        show(_contacts_table(rows))
    else:
        out.print("No contacts.")


def _phone_region() -> str:
    """Where a number without a country code is: the ``phone_region`` setting."""
    from deskterm.config import load_settings

    return load_settings().phone_region


@contact_app.command("find")
def contact_find(
    ctx: typer.Context,
    text: Annotated[
        str,
        typer.Argument(
            help="Any word of the name (or its start, or spelt alike), organization, "
            "phone in any format or 4+ of its digits, email, its start or its domain."
        ),
    ],
    limit: Annotated[int, typer.Option(help="At most this many.")] = 20,
    as_json: JsonOpt = False,
) -> None:
    """Find callers the way they introduce themselves, best match first."""
    from deskterm.desk.contacts import find_contacts

    state: State = ctx.obj
    rows = state.desk().read(find_contacts, text=text, limit=limit, region=_phone_region())
    if as_json:
        print_json([c.to_json() for c in rows])
        return
    if rows:
        show(_contacts_table(rows))
    else:
        out.print(literal(f"No contact matches {quoted(text)}."))


@contact_app.command("show")
def contact_show(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="Id (#12), phone, email or exact name.")],
    as_json: JsonOpt = False,
) -> None:
    """Show a contact with their assets."""
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
        ("Contact", f"#{c.id} {c.name}" + (" (VIP)" if c.vip else "")),
        ("Organization", c.organization),
        ("Phone", c.phone),
        ("Mobile", c.mobile),
        ("Email", c.email),
        ("Location", c.location),
        ("Language", c.language),
        ("Open tickets", str(c.open_tickets)),
    ):
        if value:
            grid.add_row(label, literal(value))
    for a in c.assets:
        details = " ".join(x for x in (a.model_number, a.serial_number, a.account_number) if x)
        grid.add_row(f"Asset #{a.id}", literal(f"{a.kind}: {a.product} {details}".strip()))
    out.print(grid)


# --------------------------------------------------------------------------- categories


@category_app.command("list")
def category_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List the category tree with each category's group."""
    from deskterm.desk.setup import list_categories

    state: State = ctx.obj
    rows = state.desk().read(list_categories)
    if as_json:
        print_json([c.to_json() for c in rows])
        return
    table = _table("Category", "Group")
    for c in rows:
        depth = c.path.count(" > ")
        table.add_row(literal("  " * depth + c.path.rsplit(" > ", 1)[-1]), literal(c.group or "-"))
    show(table)
