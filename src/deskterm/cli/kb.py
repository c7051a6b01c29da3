"""``deskterm kb ...``: knowledge-base articles from a shell."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from deskterm.cli.common import State, literal, out, print_json, read_text, when

if TYPE_CHECKING:
    from deskterm.desk.kb import ArticleHit, ArticlePublic
    from deskterm.desk.schemas import TicketPublic

kb_app = typer.Typer(help="Knowledge-base articles: write, find, read, link.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
KeyArg = Annotated[str, typer.Argument(help="Article key, e.g. KB-12 or 12.")]
RefArg = Annotated[str, typer.Argument(help="Ticket reference, e.g. DT-000123 or 123.")]
BodyFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--body-file",
        help="Read the Markdown body from this file ('-' for standard input).",
        dir_okay=False,
    ),
]


def _state(ctx: typer.Context) -> State:
    return ctx.obj


def _body(body: str | None, body_file: Path | None) -> str | None:
    if body is not None and body_file is not None:
        raise typer.BadParameter("give --body or --body-file, not both")
    if body_file is None:
        return body
    return read_text(str(body_file), field="body")


def _said(article: ArticlePublic, what: str, as_json: bool) -> None:
    from rich.text import Text

    if as_json:
        print_json(article.to_json())
        return
    line = Text()
    line.append(article.key, style="bold")
    line.append(f" {what} · {article.status} · ")
    line.append(article.title)
    out.print(line)


def _hits(rows: list[ArticleHit], *, ranked: bool) -> None:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    if not rows:
        out.print("No articles match.")
        return
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, expand=True)
    table.add_column("Key", no_wrap=True, min_width=5)
    table.add_column("Title", no_wrap=True, overflow="ellipsis", ratio=3, min_width=16)
    table.add_column("Category", no_wrap=True, overflow="ellipsis", ratio=1, min_width=8)
    table.add_column("Status", no_wrap=True)
    if ranked:
        table.add_column("Says", no_wrap=True, overflow="ellipsis", ratio=3, style="dim")
    for hit in rows:
        cells = [
            Text(hit.key, style="bold"),
            literal(hit.title),
            literal(hit.category or "-"),
            Text(hit.status, style="" if hit.status == "published" else "yellow"),
        ]
        if ranked:
            cells.append(literal(hit.excerpt))
        table.add_row(*cells)
    out.print(table)


@kb_app.command("add")
def add(
    ctx: typer.Context,
    title: Annotated[str, typer.Option("--title", "-t", help="One line: what it solves.")],
    body: Annotated[str | None, typer.Option("--body", "-b", help="Markdown text.")] = None,
    body_file: BodyFileOpt = None,
    category: Annotated[
        str | None, typer.Option(help="Category path, e.g. 'Hardware > Printer'.")
    ] = None,
    tags: Annotated[str | None, typer.Option(help="Words, separated by spaces or commas.")] = None,
    status: Annotated[
        str, typer.Option(help="draft or published (publishing needs a supervisor).")
    ] = "draft",
    as_json: JsonOpt = False,
) -> None:
    """Write a new article."""
    from deskterm.desk.kb import add_article

    article = (
        _state(ctx)
        .desk()
        .write(
            add_article,
            title=title,
            body=_body(body, body_file) or "",
            category=category,
            tags=tags,
            status=status,
        )
    )
    _said(article, "written", as_json)


@kb_app.command("edit")
def edit(
    ctx: typer.Context,
    key: KeyArg,
    title: Annotated[str | None, typer.Option("--title", "-t", help="New title.")] = None,
    body: Annotated[str | None, typer.Option("--body", "-b", help="New Markdown text.")] = None,
    body_file: BodyFileOpt = None,
    category: Annotated[str | None, typer.Option(help="New category path ('' for none).")] = None,
    tags: Annotated[str | None, typer.Option(help="New tags (replace the old ones).")] = None,
    status: Annotated[str | None, typer.Option(help="draft or published.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Change an article; only what is given changes."""
    from deskterm.desk.kb import edit_article

    article = (
        _state(ctx)
        .desk()
        .write(
            edit_article,
            key=key,
            title=title,
            body=_body(body, body_file),
            category=category,
            tags=tags,
            status=status,
        )
    )
    _said(article, "saved", as_json)


@kb_app.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="Only draft or published.")] = None,
    category: Annotated[str | None, typer.Option(help="Only this category.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many (1-1000).")] = 100,
    as_json: JsonOpt = False,
) -> None:
    """List articles, the most recently changed first."""
    from deskterm.desk.kb import list_articles

    rows = _state(ctx).desk().read(list_articles, status=status, category=category, limit=limit)
    if as_json:
        print_json([r.to_json() for r in rows])
        return
    _hits(rows, ranked=False)


@kb_app.command("search")
def search(
    ctx: typer.Context,
    words: Annotated[list[str], typer.Argument(help="Words to find (all must match).")],
    drafts: Annotated[bool, typer.Option("--drafts", help="Search drafts too.")] = False,
    limit: Annotated[int, typer.Option(help="At most this many (1-100).")] = 10,
    as_json: JsonOpt = False,
) -> None:
    """Find articles, best match first (title words count most)."""
    from deskterm.desk.kb import search_articles

    rows = (
        _state(ctx).desk().read(search_articles, query=" ".join(words), drafts=drafts, limit=limit)
    )
    if as_json:
        print_json([r.to_json() for r in rows])
        return
    _hits(rows, ranked=True)


@kb_app.command("show")
def show(ctx: typer.Context, key: KeyArg, as_json: JsonOpt = False) -> None:
    """Read an article; Markdown is rendered on a terminal and left as it is when piped."""
    from rich.text import Text

    from deskterm.desk.kb import get_article
    from deskterm.domain.text import visible

    article = _state(ctx).desk().read(get_article, key=key)
    if as_json:
        print_json(article.to_json())
        return
    head = Text()
    head.append(article.key, style="bold")
    head.append(" · ")
    head.append(article.title, style="bold")
    facts = [
        article.status,
        article.category or "no category",
        f"by {article.author or 'system'}",
        f"changed {when(article.updated_at)}",
        f"solved {article.used} ticket{'s' if article.used != 1 else ''}",
    ]
    out.print(head)
    out.print(Text(" · ".join(facts), style="dim"))
    if article.tags:
        out.print(Text("tags: " + ", ".join(article.tags), style="dim"))
    out.print()
    body = visible(article.body)
    if out.is_terminal:
        # Links as "text (address)": a terminal hyperlink (OSC 8) shows only its text, and
        # an article's text may say one address while the link goes to another.
        from rich.markdown import Markdown  # markdown-it and Pygments: 30 ms, only here

        out.print(Markdown(body, hyperlinks=False))
    else:
        sys.stdout.write(body + ("\n" if not body.endswith("\n") else ""))


@kb_app.command("link")
def link(
    ctx: typer.Context,
    ref: RefArg,
    key: KeyArg,
    as_json: JsonOpt = False,
) -> None:
    """Record that an article solved a ticket ("solved with KB-12")."""
    from deskterm.desk.kb import format_key, link_article, parse_key

    ticket = _state(ctx).desk().write(link_article, ref=ref, key=key)
    _ticket_said(ticket, f"solved with {format_key(parse_key(key))}", as_json)


@kb_app.command("need")
def need(
    ctx: typer.Context,
    ref: RefArg,
    topic: Annotated[str, typer.Argument(help="What the missing article would be about.")],
    as_json: JsonOpt = False,
) -> None:
    """Flag a ticket solved without an article that should exist (see `kb gaps`)."""
    from deskterm.desk.kb import flag_article_needed

    ticket = _state(ctx).desk().write(flag_article_needed, ref=ref, topic=topic)
    _ticket_said(ticket, "flagged: article needed", as_json)


def _ticket_said(ticket: TicketPublic, said: str, as_json: bool) -> None:
    from rich.text import Text

    if as_json:
        print_json(ticket.to_json())
        return
    line = Text()
    line.append(ticket.ref, style="bold")
    line.append(f" {said}")
    out.print(line)


@kb_app.command("gaps")
def gaps(
    ctx: typer.Context,
    from_: Annotated[
        str | None, typer.Option("--from", help="Flagged on or after this day (YYYY-MM-DD).")
    ] = None,
    to: Annotated[
        str | None, typer.Option("--to", help="Flagged on or before this day (YYYY-MM-DD).")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many rows.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Which articles to write next: tickets flagged "article needed", by category and topic."""
    from rich import box
    from rich.table import Table

    from deskterm.desk.kb import gaps as find_gaps
    from deskterm.desk.reports import day_range

    since, until = day_range(from_, to, default_days=None)
    rows = _state(ctx).desk().read(find_gaps, since=since, until=until, limit=limit)
    if as_json:
        print_json([r.to_json() for r in rows])
        return
    if not rows:
        out.print("No tickets are flagged as needing an article.")
        return
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("Tickets", justify="right", no_wrap=True)
    table.add_column("Category", no_wrap=True, overflow="ellipsis")
    table.add_column("Topic", overflow="fold")
    table.add_column("Latest", no_wrap=True, style="dim")
    for gap in rows:
        table.add_row(
            str(gap.tickets), literal(gap.category or "-"), literal(gap.topic), when(gap.latest)
        )
    out.print(table)
