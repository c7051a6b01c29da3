"""``deskterm serve ssh``: the app over SSH, for analysts who are not at the host."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from deskterm.cli.common import State, fail
from deskterm.i18n import _

if TYPE_CHECKING:
    from deskterm.serve.ssh import SshServer

# The servers' own log lines (stderr, a journal) stay in English: operators grep them.
serve_app = typer.Typer(
    help=_(
        "Serve the app to analysts elsewhere (`deskterm serve ssh`); take the phone "
        "system's call events (`deskterm serve cti`)."
    ),
    no_args_is_help=True,
)


class _UtcFormatter(logging.Formatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created))


def _log_to_stderr() -> None:
    """One line per event on stderr, UTC-stamped: a terminal, a journal or a file."""
    handler = logging.StreamHandler()
    handler.setFormatter(_UtcFormatter("%(asctime)s %(message)s"))
    logger = logging.getLogger("deskterm.serve")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


@serve_app.command(
    "ssh",
    help=_(
        "Run an SSH server that opens the app for each analyst, chosen by their key.\n\n"
        "Analysts' public keys are registered with `deskterm analyst key add`; a key that is "
        "not registered is refused. Each connection gets the app at its own terminal size, and "
        "nothing else: no shell, no commands, no file transfer, no forwarding. ctrl+c stops it."
    ),
)
def serve_ssh(
    ctx: typer.Context,
    host: Annotated[
        str,
        typer.Option(help=_("Address to listen on: 0.0.0.0 (or ::) for every network.")),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help=_("Port to listen on."), min=0, max=65535)] = 2222,
    host_key: Annotated[
        Path | None,
        typer.Option(
            "--host-key",
            metavar="PATH",
            help=_(
                "The server's private host key (default: ssh_host_ed25519_key in your data "
                "folder, created on first start)."
            ),
        ),
    ] = None,
) -> None:
    try:
        import asyncio

        from deskterm.serve.ssh import default_host_key_path, load_host_key, serve
    except ImportError as exc:  # no termios/fcntl: not a POSIX system
        fail(
            _("deskterm serve ssh needs Linux, macOS or another POSIX system ({error})").format(
                error=exc
            )
        )
    from deskterm.desk.context import Desk
    from deskterm.desk.keys import list_keys
    from deskterm.serve.ssh import SshServer

    state: State = ctx.obj
    db = state.database()
    keys = Desk(db, None).read(list_keys)
    path = (host_key or default_host_key_path()).expanduser()
    key, created = load_host_key(path)
    _log_to_stderr()
    log = logging.getLogger("deskterm.serve.ssh")

    def ready(server: SshServer) -> None:
        log.info(
            "deskterm serve ssh: listening on %s port %s for the desk at %s",
            server.host,
            server.port,
            db.describe(),
        )
        log.info(
            "host key %s (%s) %s %s: compare it with what ssh shows on the first connection",
            server.fingerprint,
            key.get_algorithm(),
            "created in" if created else "from",
            path,
        )
        analysts = len({k.login for k in keys})
        if keys:
            log.info(
                "%d key(s) of %d analyst(s) may sign in: `ssh -t -p %s ANYNAME@HOST` "
                "(the key decides who you are); ctrl+c stops",
                len(keys),
                analysts,
                server.port,
            )
        else:
            log.info(
                "no analyst has a key yet, so nobody can sign in: "
                "`deskterm analyst key add LOGIN ~/.ssh/id_ed25519.pub`; ctrl+c stops"
            )

    server = SshServer(db, key, host=host, port=port)
    asyncio.run(serve(server, on_ready=ready))
    log.info("stopped")


@serve_app.command(
    "cti",
    help=_(
        "Take a phone system's call events (newCall, answer, hangup) at /cti/TOKEN.\n\n"
        "Tokens are made with `deskterm cti token add`; a post with any other is refused "
        "(404). Each call lands in the call log (`deskterm call list`) and rings the analyst "
        "of its extension. Plain HTTP: put a TLS proxy in front to reach it from outside. "
        "ctrl+c stops."
    ),
)
def serve_cti(
    ctx: typer.Context,
    host: Annotated[
        str,
        typer.Option(help=_("Address to listen on: 0.0.0.0 (or ::) for a PBX on the network.")),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help=_("Port to listen on."), min=0, max=65535)] = 8090,
    public_url: Annotated[
        str | None,
        typer.Option(
            "--public-url",
            help=_(
                "How the phone system reaches this server, e.g. https://desk.example.com "
                "behind a TLS proxy (sipgate.io is told to post answer and hangup there)."
            ),
        ),
    ] = None,
) -> None:
    import asyncio

    from deskterm.config import load_settings
    from deskterm.serve.cti import CtiServer

    state: State = ctx.obj
    db = state.database()
    _log_to_stderr()
    log = logging.getLogger("deskterm.serve.cti")

    def ready(server: CtiServer) -> None:
        log.info(
            "deskterm serve cti: listening on http://%s:%s/cti/TOKEN for the desk at %s; "
            "ctrl+c stops",
            server.host,
            server.port,
            db.describe(),
        )

    if public_url is not None and not public_url.startswith(("http://", "https://")):
        fail(_("--public-url must start with http:// or https://"))
    server = CtiServer(
        db, host=host, port=port, region=load_settings().phone_region, public_url=public_url
    )
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
