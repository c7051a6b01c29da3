"""``deskterm kb ...``: knowledge-base articles from a shell."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from deskterm.cli.common import CsvOpt, State, literal, out, print_json, print_rows, read_text, when
from deskterm.i18n import _, ngettext, pgettext

if TYPE_CHECKING:
    from deskterm.desk.kb import ArticleHit, ArticlePublic
    from deskterm.desk.schemas import TicketPublic

kb_app = typer.Typer(
    help=_("Knowledge-base articles: write, find, read, link."), no_args_is_help=True
)

JsonOpt = Annotated[bool, typer.Option("--json", help=_("Print JSON for scripts."))]
KeyArg = Annotated[str, typer.Argument(help=_("Article key, e.g. KB-12 or 12."))]
RefArg = Annotated[str, typer.Argument(help=_("Ticket reference, e.g. DT-000123 or 123."))]
BodyFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--body-file",
        help=_("Read the Markdown body from this file ('-' for standard input)."),
        dir_okay=False,
    ),
]


def _state(ctx: typer.Context) -> State:
    return ctx.obj


def _body(body: str | None, body_file: Path | None) -> str | None:
    if body is not None and body_file is not None:
        raise typer.BadParameter(_("give --body or --body-file, not both"))
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
    line.append(f" {what} · {_article_status(article.status)} · ")
    line.append_text(literal(article.title))
    out.print(line)


def _article_status(status: str) -> str:
    words = {
        "draft": pgettext("article status", "draft"),
        "published": pgettext("article status", "published"),
    }
    return words.get(status, status)


def _hits(rows: list[ArticleHit], *, ranked: bool) -> None:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    if not rows:
        out.print(_("No articles match."))
        return
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, expand=True)
    # Translators: column headers of `deskterm kb list` and `kb search` ("Says": an excerpt).
    table.add_column(_("Key"), no_wrap=True, min_width=5)
    table.add_column(_("Title"), no_wrap=True, overflow="ellipsis", ratio=3, min_width=16)
    table.add_column(_("Category"), no_wrap=True, overflow="ellipsis", ratio=1, min_width=8)
    table.add_column(_("Status"), no_wrap=True)
    if ranked:
        table.add_column(_("Says"), no_wrap=True, overflow="ellipsis", ratio=3, style="dim")
    for hit in rows:
        cells = [
            Text(hit.key, style="bold"),
            literal(hit.title),
            literal(hit.category or "-"),
            Text(_article_status(hit.status), style="" if hit.status == "published" else "yellow"),
        ]
        if ranked:
            cells.append(literal(hit.excerpt))
        table.add_row(*cells)
    out.print(table)


@kb_app.command("add", help=_("Write a new article."))
def add(
    ctx: typer.Context,
    title: Annotated[str, typer.Option("--title", "-t", help=_("One line: what it solves."))],
    body: Annotated[str | None, typer.Option("--body", "-b", help=_("Markdown text."))] = None,
    body_file: BodyFileOpt = None,
    category: Annotated[
        str | None, typer.Option(help=_("Category path, e.g. 'Hardware > Printer'."))
    ] = None,
    tags: Annotated[
        str | None, typer.Option(help=_("Words, separated by spaces or commas."))
    ] = None,
    status: Annotated[
        str, typer.Option(help=_("draft or published (publishing needs a supervisor)."))
    ] = "draft",
    as_json: JsonOpt = False,
) -> None:
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
    # Translators: what was done to an article: "KB-12 written · draft · Title".
    _said(article, _("written"), as_json)


@kb_app.command("edit", help=_("Change an article; only what is given changes."))
def edit(
    ctx: typer.Context,
    key: KeyArg,
    title: Annotated[str | None, typer.Option("--title", "-t", help=_("New title."))] = None,
    body: Annotated[str | None, typer.Option("--body", "-b", help=_("New Markdown text."))] = None,
    body_file: BodyFileOpt = None,
    category: Annotated[
        str | None, typer.Option(help=_("New category path ('' for none)."))
    ] = None,
    tags: Annotated[str | None, typer.Option(help=_("New tags (replace the old ones)."))] = None,
    status: Annotated[str | None, typer.Option(help=_("draft or published."))] = None,
    as_json: JsonOpt = False,
) -> None:
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
    _said(article, _("saved"), as_json)


@kb_app.command("list", help=_("List articles, the most recently changed first."))
def list_(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help=_("Only draft or published."))] = None,
    category: Annotated[str | None, typer.Option(help=_("Only this category."))] = None,
    limit: Annotated[int, typer.Option(help=_("At most this many (1-1000)."))] = 100,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    from deskterm.desk.kb import list_articles

    rows = _state(ctx).desk().read(list_articles, status=status, category=category, limit=limit)
    if print_rows(rows, as_json=as_json, as_csv=as_csv, of=list_articles):
        return
    _hits(rows, ranked=False)


@kb_app.command("search", help=_("Find articles, best match first (title words count most)."))
def search(
    ctx: typer.Context,
    words: Annotated[list[str], typer.Argument(help=_("Words to find (all must match)."))],
    drafts: Annotated[bool, typer.Option("--drafts", help=_("Search drafts too."))] = False,
    limit: Annotated[int, typer.Option(help=_("At most this many (1-100)."))] = 10,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    from deskterm.desk.kb import search_articles

    rows = (
        _state(ctx).desk().read(search_articles, query=" ".join(words), drafts=drafts, limit=limit)
    )
    if print_rows(rows, as_json=as_json, as_csv=as_csv, of=search_articles):
        return
    _hits(rows, ranked=True)


@kb_app.command(
    "show",
    help=_("Read an article; Markdown is rendered on a terminal and left as it is when piped."),
)
def show(ctx: typer.Context, key: KeyArg, as_json: JsonOpt = False) -> None:
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
    head.append_text(literal(article.title))
    head.stylize("bold", len(article.key) + 3)
    facts = [
        _article_status(article.status),
        article.category or _("no category"),
        _("by {name}").format(name=article.author or _("system")),
        _("changed {when}").format(when=when(article.updated_at)),
        ngettext("solved {n} ticket", "solved {n} tickets", article.used).format(n=article.used),
    ]
    out.print(head)
    line = literal(" · ".join(facts))
    line.style = "dim"
    out.print(line)
    if article.tags:
        line = literal(_("tags: {tags}").format(tags=", ".join(article.tags)))
        line.style = "dim"
        out.print(line)
    out.print()
    body = visible(article.body)
    if out.is_terminal:
        # Links as "text (address)": a terminal hyperlink (OSC 8) shows only its text, and
        # an article's text may say one address while the link goes to another.
        from rich.markdown import Markdown  # markdown-it and Pygments: 30 ms, only here

        out.print(Markdown(body, hyperlinks=False))
    else:
        sys.stdout.write(body + ("\n" if not body.endswith("\n") else ""))


@kb_app.command("link", help=_('Record that an article solved a ticket ("solved with KB-12").'))
def link(
    ctx: typer.Context,
    ref: RefArg,
    key: KeyArg,
    as_json: JsonOpt = False,
) -> None:
    from deskterm.desk.kb import format_key, link_article, parse_key

    ticket = _state(ctx).desk().write(link_article, ref=ref, key=key)
    _ticket_said(ticket, _("solved with {key}").format(key=format_key(parse_key(key))), as_json)


@kb_app.command(
    "need", help=_("Flag a ticket solved without an article that should exist (see `kb gaps`).")
)
def need(
    ctx: typer.Context,
    ref: RefArg,
    topic: Annotated[str, typer.Argument(help=_("What the missing article would be about."))],
    as_json: JsonOpt = False,
) -> None:
    from deskterm.desk.kb import flag_article_needed

    ticket = _state(ctx).desk().write(flag_article_needed, ref=ref, topic=topic)
    _ticket_said(ticket, _("flagged: article needed"), as_json)


def _ticket_said(ticket: TicketPublic, said: str, as_json: bool) -> None:
    from rich.text import Text

    if as_json:
        print_json(ticket.to_json())
        return
    line = Text()
    line.append(ticket.ref, style="bold")
    line.append(f" {said}")
    out.print(line)


@kb_app.command(
    "gaps",
    help=_(
        'Which articles to write next: tickets flagged "article needed", by category and topic.'
    ),
)
def gaps(
    ctx: typer.Context,
    from_: Annotated[
        str | None, typer.Option("--from", help=_("Flagged on or after this day (YYYY-MM-DD)."))
    ] = None,
    to: Annotated[
        str | None, typer.Option("--to", help=_("Flagged on or before this day (YYYY-MM-DD)."))
    ] = None,
    limit: Annotated[int, typer.Option(help=_("At most this many rows."))] = 50,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    from rich import box
    from rich.table import Table

    from deskterm.desk.kb import gaps as find_gaps
    from deskterm.desk.reports import day_range

    since, until = day_range(from_, to, default_days=None)
    rows = _state(ctx).desk().read(find_gaps, since=since, until=until, limit=limit)
    if print_rows(rows, as_json=as_json, as_csv=as_csv, of=find_gaps):
        return
    if not rows:
        out.print(_("No tickets are flagged as needing an article."))
        return
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    # Translators: column headers of `deskterm kb gaps`.
    table.add_column(_("Tickets"), justify="right", no_wrap=True)
    table.add_column(_("Category"), no_wrap=True, overflow="ellipsis")
    table.add_column(_("Topic"), overflow="fold")
    table.add_column(_("Latest"), no_wrap=True, style="dim")
    for gap in rows:
        table.add_row(
            str(gap.tickets), literal(gap.category or "-"), literal(gap.topic), when(gap.latest)
        )
    out.print(table)
