"""``deskterm bench cti``: many phone-system posts at once against a real ``deskterm serve
cti``, and proof that every call was kept.

The server runs as its own process (``python -m deskterm serve cti --port 0``), as in
production, on a scratch desk made for the run: a temporary SQLite file, or a schema of its
own in the PostgreSQL database given, dropped afterwards. The posts come from this process
over plain asyncio connections (no HTTP library's overhead in the figures), all started
together after a short warm-up; each post's time runs from opening its connection to the
end of the answer. Then the call log is counted: every post a call, none lost. The same
posts one after another give what a post costs when it waits for no other.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from urllib.parse import quote

from deskterm.desk.context import Desk
from deskterm.desk.cti import add_token, count_calls
from deskterm.desk.setup import open_database

_LISTENING = re.compile(r"listening on http://([^:/\s]+):(\d+)/cti/")
_WARM_UP = 5


@dataclass(frozen=True)
class CtiResult:
    backend: str
    posts: int
    #: Posts answered 200.
    accepted: int
    #: Calls in the log afterwards: must equal ``posts``.
    kept: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    #: The same posts one after another: what one post costs when it waits for no other.
    alone_p50_ms: float
    alone_p99_ms: float
    load_average: tuple[float, float]

    @property
    def ok(self) -> bool:
        return self.accepted == self.posts == self.kept

    def to_json(self) -> dict[str, object]:
        return {**asdict(self), "ok": self.ok}


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


@contextlib.contextmanager
def scratch_desk(postgres_url: str | None) -> Iterator[str]:
    """The URL of an empty desk for one run, removed afterwards."""
    if postgres_url is None:
        with tempfile.TemporaryDirectory(prefix="deskterm-bench-cti-") as folder:
            yield f"sqlite:///{os.path.join(folder, 'desk.db')}"
        return
    import psycopg

    schema = f"bench_cti_{uuid.uuid4().hex[:12]}"
    plain = postgres_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in postgres_url else "?"
    try:
        yield f"{postgres_url}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def _start_server(url: str) -> tuple[subprocess.Popen[str], int]:
    command = [sys.executable, "-m", "deskterm", "--db", url, "serve", "cti", "--port", "0"]
    server = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    assert server.stderr is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = server.stderr.readline()
        if not line:
            break
        found = _LISTENING.search(line)
        if found:
            return server, int(found.group(2))
    server.kill()
    server.wait()
    raise RuntimeError("deskterm serve cti did not start (see its output above)")


async def _post(port: int, path: str, fields: dict[str, object]) -> tuple[int, float]:
    body = json.dumps(fields).encode()
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    answer = await reader.read()
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    elapsed = (time.perf_counter() - started) * 1000
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0
    return status, elapsed


async def _burst(port: int, path: str, run: str, posts: int) -> list[tuple[int, float]]:
    def event(n: int) -> dict[str, object]:
        return {
            "event": "newCall",
            "callId": f"{run}-{n}",
            "from": f"0161 496 {n % 10000:04d}",
            "to": "201",
            "direction": "in",
        }

    for n in range(_WARM_UP):
        await _post(port, path, {**event(n), "callId": f"warm-{run}-{n}"})
    return list(await asyncio.gather(*(_post(port, path, event(n)) for n in range(posts))))


async def _one_by_one(port: int, path: str, run: str, posts: int) -> list[float]:
    times = []
    for n in range(posts):
        fields = {"event": "newCall", "callId": f"alone-{run}-{n}", "from": "0161 496 0000"}
        _status, ms = await _post(port, path, {**fields, "to": "201", "direction": "in"})
        times.append(ms)
    return times


def run_cti_bench(
    *, posts: int = 200, postgres_url: str | None = None, report: Callable[[str], None]
) -> CtiResult:
    load_before = os.getloadavg()[0]
    with scratch_desk(postgres_url) as url:
        db = open_database(url)
        try:
            secret = Desk(db, None).write(add_token).secret
            server, port = _start_server(url)
            report(f"deskterm serve cti on port {port}, desk {db.describe()}")
            run = f"bench-{uuid.uuid4().hex[:8]}"
            try:
                started = time.perf_counter()
                answers = asyncio.run(_burst(port, f"/cti/{secret}", run, posts))
                seconds = time.perf_counter() - started
                alone = asyncio.run(_one_by_one(port, f"/cti/{secret}", run, min(posts, 100)))
            finally:
                server.send_signal(signal.SIGINT)
                try:
                    server.wait(30)
                except subprocess.TimeoutExpired:
                    server.kill()
                    server.wait()
            kept = Desk(db, None).read(count_calls, call_id_prefix=f"{run}-")
            backend = db.dialect
        finally:
            db.dispose()
    times = [ms for _status, ms in answers]
    return CtiResult(
        backend=backend,
        posts=posts,
        accepted=sum(1 for status, _ms in answers if status == 200),
        kept=kept,
        seconds=round(seconds, 3),
        p50_ms=round(_percentile(times, 0.50), 2),
        p99_ms=round(_percentile(times, 0.99), 2),
        max_ms=round(max(times), 2),
        alone_p50_ms=round(_percentile(alone, 0.50), 2),
        alone_p99_ms=round(_percentile(alone, 0.99), 2),
        load_average=(load_before, os.getloadavg()[0]),
    )
