"""A real PgBouncer (Debian's ``pgbouncer``) in front of the test PostgreSQL, for the tests here.

``bouncer`` starts one on a free port in a temporary folder, in transaction mode (what issue
17 asks the desk to work behind), and stops it after the module. PgBouncer refuses to run as
root, so under root it runs as ``postgres`` (``runuser``). ``bounced`` gives each test a
scratch database of its own, reachable through the pooler and directly: PgBouncer 1.18 drops
or refuses the ``options`` startup parameter, so the suite's schema-per-test (a search_path in
``options``) cannot pass through it.

Skipped, with the reason, only when the suite runs without PostgreSQL or the machine has no
``pgbouncer`` (CI installs it: .ci/run).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

#: The suite's PostgreSQL (tests/conftest.py).
POSTGRES_ENV = "DESKTERM_TEST_POSTGRES_URL"

#: Where Debian puts it (not on a normal user's PATH).
_PLACES = ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer")


def pgbouncer_binary() -> str | None:
    found = shutil.which("pgbouncer")
    if found:
        return found
    return next((place for place in _PLACES if os.access(place, os.X_OK)), None)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Bouncer:
    port: int
    #: The test server's URL (the suite's ``DESKTERM_TEST_POSTGRES_URL``).
    server_url: str
    folder: Path

    def url_for(self, database: str) -> str:
        """``database`` through the pooler."""
        url = make_url(self.server_url).set(
            host="127.0.0.1", port=self.port, database=database, query={}
        )
        return url.render_as_string(hide_password=False)

    def direct_url_for(self, database: str) -> str:
        """``database`` on the server itself, bypassing the pooler."""
        url = make_url(self.server_url).set(database=database, query={})
        return url.render_as_string(hide_password=False)

    def log(self) -> str:
        path = self.folder / "pgbouncer.log"
        return path.read_text(errors="replace") if path.exists() else ""


@dataclass(frozen=True)
class Bounced:
    """A scratch database, through the pooler (``url``) and directly (``direct_url``)."""

    url: str
    direct_url: str
    bouncer: Bouncer

    def env(self) -> dict[str, str]:
        """The settings of a desk behind a transaction pooler: queries through it, LISTEN
        straight to the server."""
        return {
            "DESKTERM_DATABASE_URL": self.url,
            "DESKTERM_POOLER": "transaction",
            "DESKTERM_LISTEN_URL": self.direct_url,
        }


@pytest.fixture(scope="module")
def bouncer() -> Iterator[Bouncer]:
    server = os.environ.get(POSTGRES_ENV) or None
    if server is None:
        pytest.skip(f"PgBouncer tests skipped: set {POSTGRES_ENV} to run them")
    binary = pgbouncer_binary()
    if binary is None:
        pytest.skip(
            "PgBouncer tests skipped: pgbouncer is not installed (apt-get install pgbouncer)"
        )
    url = make_url(server)
    folder = Path(tempfile.mkdtemp(prefix="deskterm-pgbouncer-"))
    port = _free_port()
    users = {url.username or "postgres", "postgres"}
    # trust still wants the user listed in the auth file.
    (folder / "users.txt").write_text("".join(f'"{user}" ""\n' for user in sorted(users)))
    (folder / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"* = host={url.host or '127.0.0.1'} port={url.port or 5432}\n"
        "[pgbouncer]\n"
        "listen_addr = 127.0.0.1\n"
        f"listen_port = {port}\n"
        "unix_socket_dir =\n"
        "auth_type = trust\n"
        f"auth_file = {folder / 'users.txt'}\n"
        "pool_mode = transaction\n"
        "max_client_conn = 900\n"
        "default_pool_size = 20\n"
        f"logfile = {folder / 'pgbouncer.log'}\n"
        f"pidfile = {folder / 'pgbouncer.pid'}\n"
    )
    command = [binary, str(folder / "pgbouncer.ini")]
    if os.geteuid() == 0:
        # "FATAL PgBouncer should not run as root".
        shutil.chown(folder, "postgres")
        for child in folder.iterdir():
            shutil.chown(child, "postgres")
        command = ["runuser", "-u", "postgres", "--", *command]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    bouncer = Bouncer(port=port, server_url=server, folder=folder)
    try:
        _wait_until_listening(process, port, bouncer)
        yield bouncer
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
        shutil.rmtree(folder, ignore_errors=True)


def _wait_until_listening(process: subprocess.Popen[bytes], port: int, bouncer: Bouncer) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            said = process.stdout.read().decode(errors="replace") if process.stdout else ""
            raise RuntimeError(f"pgbouncer did not start: {said or bouncer.log()}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"pgbouncer did not listen on port {port}: {bouncer.log()}")


@pytest.fixture
def bounced(bouncer: Bouncer) -> Iterator[Bounced]:
    """An empty database of this test's own, reachable through the pooler and directly."""
    name = f"pgb_{uuid.uuid4().hex[:16]}"
    admin = create_engine(
        bouncer.direct_url_for(make_url(bouncer.server_url).database or "postgres"),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield Bounced(bouncer.url_for(name), bouncer.direct_url_for(name), bouncer)
    finally:
        with admin.connect() as conn:
            # PgBouncer keeps its server connections to the database open: FORCE ends them.
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
