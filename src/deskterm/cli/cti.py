"""``deskterm cti``: the phone system's tokens, and a simulated PBX to try the server with."""

from __future__ import annotations

import json
import time
import uuid
from typing import Annotated

import typer

from deskterm.cli.common import CsvOpt, State, fail, out, print_json, print_rows, when
from deskterm.i18n import _

cti_app = typer.Typer(
    help=_("The phone system (CTI): tokens for `deskterm serve cti`, and a simulated call."),
    no_args_is_help=True,
)
token_app = typer.Typer(
    help=_("Secrets in the URL a phone system posts call events to (supervisors only)."),
    no_args_is_help=True,
)
cti_app.add_typer(token_app, name="token")

JsonOpt = Annotated[bool, typer.Option("--json", help=_("Print JSON for scripts."))]


@token_app.command("add", help=_("Make a token; it is printed once and only its hash is kept."))
def token_add(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    from deskterm.desk.cti import add_token

    state: State = ctx.obj
    made = state.desk().write(add_token)
    if as_json:
        print_json({"token": made.secret, "id": made.token.id})
        return
    out.print(
        _("token {id}: {secret}").format(id=made.token.id, secret=made.secret), soft_wrap=True
    )
    out.print(
        _("keep it now: it is not shown again. The phone system posts to {url}").format(
            url=f"http://HOST:8090/cti/{made.secret}"
        ),
        soft_wrap=True,
    )


@token_app.command("list", help=_("The tokens by id, when made and last used (never the secret)."))
def token_list(
    ctx: typer.Context,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    from deskterm.desk.cti import list_tokens

    state: State = ctx.obj
    rows = state.desk().read(list_tokens)
    if print_rows(rows, as_json=as_json, as_csv=as_csv, of=list_tokens):
        return
    if not rows:
        out.print(_("no tokens yet: `deskterm cti token add`"))
    for t in rows:
        out.print(
            f"{t.id}  "
            + _("made {when} by {who}  last used {used}").format(
                when=when(t.created_at),
                who=t.created_by or _("system"),
                used=when(t.last_used_at) if t.last_used_at else _("never"),
            )
        )


@token_app.command("remove", help=_("Revoke a token: posts with it are refused (404) from now on."))
def token_remove(
    ctx: typer.Context,
    token_id: Annotated[int, typer.Argument(metavar="ID", help=_("The token's id (`list`)."))],
    as_json: JsonOpt = False,
) -> None:
    from deskterm.desk.cti import remove_token

    state: State = ctx.obj
    removed = state.desk().write(remove_token, token_id=token_id)
    if as_json:
        print_json(removed.to_json())
        return
    out.print(_("removed token {id}").format(id=removed.id))


def _post(url: str, fields: dict[str, object]) -> int:
    """POST one event as JSON; the HTTP status (a refusal is no exception here)."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        url,
        data=json.dumps(fields).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        # The URL was checked to be http(s) above: no file: or custom scheme reaches here.
        with urllib.request.urlopen(request, timeout=10) as answer:  # nosec B310
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (urllib.error.URLError, OSError) as exc:
        fail(
            _("cannot reach {url}: {reason}").format(
                url=f"{url.rsplit('/', 1)[0]}/…", reason=getattr(exc, "reason", exc)
            )
        )


@cti_app.command(
    "simulate", help=_("Post a call to a running `deskterm serve cti`, as a phone system would.")
)
def simulate(
    from_: Annotated[str, typer.Option("--from", help=_("The caller's number."))],
    to: Annotated[str, typer.Option("--to", help=_("The extension or number called."))],
    url: Annotated[
        str,
        typer.Option(
            "--url",
            help=_("The server's URL with its token: http://127.0.0.1:8090/cti/TOKEN."),
            envvar="DESKTERM_CTI_URL",
        ),
    ],
    answer_after: Annotated[
        float | None,
        typer.Option(
            "--answer-after", help=_("Seconds until answered (left out: nobody answers).")
        ),
    ] = None,
    hangup_after: Annotated[
        float | None,
        typer.Option(
            "--hangup-after", help=_("Seconds after the answer (or the ring) to hang up.")
        ),
    ] = None,
    user: Annotated[
        list[str] | None, typer.Option("--user", help=_("A user[] the call rings; repeat."))
    ] = None,
    direction: Annotated[str, typer.Option(help=_("in or out."))] = "in",
    cause: Annotated[
        str | None,
        typer.Option(help=_("The hangup's cause (default: normalClearing or cancel).")),
    ] = None,
) -> None:
    if not url.startswith(("http://", "https://")):
        fail(_("--url must be http:// or https://, e.g. http://127.0.0.1:8090/cti/TOKEN"))
    call_id = uuid.uuid4().hex
    base: dict[str, object] = {"callId": call_id, "from": from_, "to": to, "direction": direction}
    if user:
        base["user[]"] = user
    steps: list[tuple[float, dict[str, object]]] = [(0.0, {"event": "newCall"})]
    if answer_after is not None:
        steps.append((answer_after, {"event": "answer", "answeringNumber": to}))
    ended = cause or ("normalClearing" if answer_after is not None else "cancel")
    steps.append(
        (hangup_after if hangup_after is not None else 0.0, {"event": "hangup", "cause": ended})
    )
    for delay, extra in steps:
        time.sleep(max(0.0, delay))
        status = _post(url, {**base, **extra})
        out.print(f"{extra['event']} {call_id} -> {status}")
        if status != 200:
            fail(
                _("the server refused {event} with HTTP {status}").format(
                    event=extra["event"], status=status
                )
            )


def bench_cti(
    ctx: typer.Context,
    posts: Annotated[int, typer.Option(min=1, max=2000, help=_("Posts sent at once."))] = 200,
    as_json: JsonOpt = False,
) -> None:
    # Its help is given where it is registered (deskterm/cli/bench.py).
    from deskterm.bench.cti import run_cti_bench
    from deskterm.cli.common import err, literal

    state: State = ctx.obj
    url = state.db_url
    if url is not None and not url.startswith("postgresql"):
        fail(_("--db for bench cti is a PostgreSQL URL (a scratch schema is made there)"))
    result = run_cti_bench(posts=posts, postgres_url=url, report=lambda m: err.print(literal(m)))
    if as_json:
        print_json(result.to_json())
    else:
        out.print(
            f"{result.backend}: {result.posts} posts at once, {result.accepted} accepted, "
            f"{result.kept} calls kept in {result.seconds:.2f} s; per post p50 "
            f"{result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms, max {result.max_ms:.1f} ms; "
            f"one at a time p50 {result.alone_p50_ms:.1f} ms, p99 {result.alone_p99_ms:.1f} ms "
            f"(load {result.load_average[0]:.2f} -> {result.load_average[1]:.2f})",
            soft_wrap=True,
        )
    if not result.ok:
        raise typer.Exit(6)
