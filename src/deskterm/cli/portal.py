"""``deskterm portal``: the customer's link to their case, the SMS gateway's tokens; and
``deskterm serve web``, the server the link opens (registered under ``serve`` by the CLI's
root)."""

from __future__ import annotations

import logging
from typing import Annotated, Any

import typer

from deskterm.cli.common import CsvOpt, State, err, fail, out, print_json, print_rows, when
from deskterm.i18n import _

portal_app = typer.Typer(
    help=_("Customers' links to their case page (served by `deskterm serve web`)."),
    no_args_is_help=True,
)

sms_token_app = typer.Typer(
    help=_("Secrets in the URL an SMS gateway posts inbound texts to (supervisors only)."),
    no_args_is_help=True,
)
portal_app.add_typer(sms_token_app, name="sms-token")

JsonOpt = Annotated[bool, typer.Option("--json", help=_("Print JSON for scripts."))]
#: Where ``deskterm serve web`` listens by default: the link's base when none is set.
LOCAL_BASE_URL = "http://127.0.0.1:8080"

RefArg = Annotated[str, typer.Argument(metavar="REF", help=_("The ticket, e.g. DT-000123."))]


def _configured_base_url() -> str | None:
    """``[web] base_url`` of the settings."""
    from deskterm.config import load_settings

    found = load_settings().web.base_url
    return found.rstrip("/") if found else None


def _checked_base_url(value: str | None) -> str | None:
    if value is not None and not value.startswith(("http://", "https://")):
        fail(_("--base-url must start with http:// or https://"))
    return value.rstrip("/") if value else None


@portal_app.command("link")
def portal_link(
    ctx: typer.Context,
    ref: RefArg,
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url",
            metavar="URL",
            help=_(
                "How customers reach `deskterm serve web`, e.g. https://help.example.com "
                "(default: base_url in the \\[web] table of the config file)."
            ),
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Print the customer's link to their case page: the one our messages carry.

    It opens the case for 30 days, for the ticket's contact only, until the ticket's
    links are revoked (`deskterm portal revoke REF`).
    """
    from deskterm.desk.portal import link_for

    state: State = ctx.obj
    url = _checked_base_url(base_url) or _configured_base_url()
    made = state.desk().write(link_for, ref=ref, base_url=url or LOCAL_BASE_URL)
    if as_json:
        print_json(made.to_json())
        return
    out.print(made.url, soft_wrap=True, markup=False, highlight=False)
    if url is None:
        err.print(
            _(
                "(no base URL set: this link is for `deskterm serve web` on this machine; "
                "give --base-url https://HOST or set base_url in the [web] table of the "
                "config file)"
            ),
            markup=False,
            highlight=False,
        )


@portal_app.command("revoke")
def portal_revoke(ctx: typer.Context, ref: RefArg, as_json: JsonOpt = False) -> None:
    """Make every link given so far for the ticket stop working (the next one works)."""
    from deskterm.desk.portal import revoke_links

    state: State = ctx.obj
    done = state.desk().write(revoke_links, ref=ref)
    if as_json:
        print_json(done.to_json())
        return
    out.print(
        _("{ref}: every customer link given so far is revoked").format(ref=done.ref),
        markup=False,
        highlight=False,
    )


@sms_token_app.command("add", help=_("Make a token; it is printed once and only its hash is kept."))
def sms_token_add(
    ctx: typer.Context,
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url",
            metavar="URL",
            help=_("How the gateway reaches `deskterm serve web`, to print its URL."),
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    from deskterm.desk.sms_inbound import add_sms_token

    state: State = ctx.obj
    url = _checked_base_url(base_url) or _configured_base_url() or LOCAL_BASE_URL
    made = state.desk().write(add_sms_token)
    if as_json:
        print_json({"token": made.secret, "id": made.token.id, "url": f"{url}/sms/{made.secret}"})
        return
    out.print(
        _("token {id}: {secret}").format(id=made.token.id, secret=made.secret),
        soft_wrap=True,
        markup=False,
        highlight=False,
    )
    out.print(
        _(
            "keep it now: it is not shown again. The SMS gateway posts each text (from, "
            "text) to {url}"
        ).format(url=f"{url}/sms/{made.secret}"),
        soft_wrap=True,
        markup=False,
        highlight=False,
    )


@sms_token_app.command(
    "list", help=_("The tokens by id, when made and last used (never the secret).")
)
def sms_token_list(
    ctx: typer.Context,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    from deskterm.desk.sms_inbound import list_sms_tokens

    state: State = ctx.obj
    rows = state.desk().read(list_sms_tokens)
    if print_rows(rows, as_json=as_json, as_csv=as_csv, of=list_sms_tokens):
        return
    if not rows:
        out.print(_("no tokens yet: `deskterm portal sms-token add`"), markup=False)
    for t in rows:
        out.print(
            f"{t.id}  "
            + _("made {when} by {who}  last used {used}").format(
                when=when(t.created_at),
                who=t.created_by or _("system"),
                used=when(t.last_used_at) if t.last_used_at else _("never"),
            ),
            markup=False,
            highlight=False,
        )


@sms_token_app.command(
    "remove", help=_("Revoke a token: texts posted with it are refused (404) from now on.")
)
def sms_token_remove(
    ctx: typer.Context,
    token_id: Annotated[int, typer.Argument(metavar="ID", help=_("The token's id (`list`)."))],
    as_json: JsonOpt = False,
) -> None:
    from deskterm.desk.sms_inbound import remove_sms_token

    state: State = ctx.obj
    removed = state.desk().write(remove_sms_token, token_id=token_id)
    if as_json:
        print_json(removed.to_json())
        return
    out.print(_("removed token {id}").format(id=removed.id), markup=False)


SERVE_WEB_HELP = _(
    "Serve customers' pages: their case, reply, verdict and survey; the help articles "
    "(/help); the contact form (/contact); and inbound texts from an SMS gateway (/sms/TOKEN)."
    "\n\nCustomers open their case with the link our messages carry (`deskterm portal link "
    "REF`). Plain HTTP: put a TLS proxy in front to reach it from outside. ctrl+c stops."
)


def serve_web(
    ctx: typer.Context,
    host: Annotated[
        str,
        typer.Option(help=_("Address to listen on: 0.0.0.0 (or ::) for every network.")),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help=_("Port to listen on."), min=0, max=65535)] = 8080,
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url",
            metavar="URL",
            help=_(
                "How customers reach this server, e.g. https://help.example.com behind a "
                "TLS proxy (default: base_url in the \\[web] table of the config file)."
            ),
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help=_(
                "Processes serving at once (one per core is a good start). Each counts the "
                "contact form's rate limits on its own."
            ),
        ),
    ] = 1,
) -> None:
    import asyncio

    from deskterm.cli.serve import _log_to_stderr
    from deskterm.config import load_settings
    from deskterm.serve.web import WebServer

    state: State = ctx.obj
    db = state.database()
    url = _checked_base_url(base_url) or _configured_base_url()
    _log_to_stderr()
    log = logging.getLogger("deskterm.serve.web")
    if workers > 1:
        _serve_processes(state, db, host, port, url, workers, log)
        return

    def ready(server: WebServer) -> None:
        log.info(
            "deskterm serve web: listening on http://%s:%s/case/TOKEN for the desk at %s%s; "
            "ctrl+c stops",
            server.host,
            server.port,
            db.describe(),
            f" (customers reach it at {url})" if url else "",
        )

    server = WebServer(db, host=host, port=port, base_url=url, region=load_settings().phone_region)
    try:
        asyncio.run(server.serve(on_ready=ready))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        fail(
            _("cannot listen on {host} port {port}: {reason}").format(
                host=host, port=port, reason=exc.strerror or exc
            )
        )
    log.info("stopped")


#: How ``serve web --workers N`` hands its settings to its processes (fresh interpreters).
_WORKER_SETTINGS = "DESKTERM_SERVE_WEB_WORKER"


def _serve_processes(
    state: State, db: Any, host: str, port: int, url: str | None, workers: int, log: Any
) -> None:
    import json
    import os

    from deskterm.config import load_settings
    from deskterm.serve.asgi import bind, run_processes
    from deskterm.serve.web import WebServer

    try:
        sock = bind(host, port)
    except OSError as exc:
        fail(
            _("cannot listen on {host} port {port}: {reason}").format(
                host=host, port=port, reason=exc.strerror or exc
            )
        )
    os.environ[_WORKER_SETTINGS] = json.dumps(
        {"db": state.database_url(), "base_url": url, "region": load_settings().phone_region}
    )
    bound = sock.getsockname()
    log.info(
        "deskterm serve web: listening on http://%s:%s/case/TOKEN for the desk at %s%s "
        "(%d processes); ctrl+c stops",
        bound[0],
        bound[1],
        db.describe(),
        f" (customers reach it at {url})" if url else "",
        workers,
    )
    # The parent only supervises: its pooled connections are not the workers'.
    db.dispose()
    run_processes("deskterm.cli.portal:web_worker_app", sock, workers, **WebServer.UVICORN)
    log.info("stopped")


def web_worker_app() -> Any:
    """The app of one ``serve web --workers N`` process, as its parent configured it."""
    import json
    import os

    from deskterm.cli.serve import _log_to_stderr
    from deskterm.desk.setup import open_database
    from deskterm.serve.web import WebServer

    settings = json.loads(os.environ[_WORKER_SETTINGS])
    _log_to_stderr()
    server = WebServer(
        open_database(settings["db"]), base_url=settings["base_url"], region=settings["region"]
    )
    return server.app
