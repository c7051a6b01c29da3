"""Hearing the desk change on PostgreSQL: ``LISTEN`` on one connection per host.

Every statement that adds to the ticket log notifies ``deskterm_events`` with the newest
event id (a trigger, migration 0007); a presence change notifies ``deskterm_presence`` with
the ticket's id (desk/presence.py). Channels are database-wide, while a desk may be one
schema among several in the database (the test suite does that): a notice is a hint to look,
never the news itself.

Every ``Listener`` of a process subscribes to one hub per database, which reads the notices
on a thread of its own and hands each subscriber those of its channels. The hub connects on
the first subscription and closes on the last. When its source breaks, every subscriber's
next ``wait`` raises ``DatabaseUnavailable`` and the hub is gone: whoever listens again (the
app does, after a pause) starts afresh.

Processes share too (issue 17: four idle apps on one host should hold one connection, not
four). A hub first tries to join a *relay*: a Linux abstract Unix socket named after the
user's uid and a hash of what the connection is (host, port, database, user, password,
search path; nothing in clear). If a process of the same uid answers there, the hub
subscribes through it and the relay sends it the notices of its channels. If nobody does, the
hub binds the name and becomes the relay: it holds the one ``LISTEN`` connection
(``deskterm-listen`` in ``pg_stat_activity``) for its own listeners and every peer. Both ends
check the other's uid (``SO_PEERCRED``): an abstract socket has no file permissions, so
another user could sit on the name, and is then simply not trusted (this process listens on
its own connection). When the relay process ends, its peers' listeners raise ``RelayGone``
(a ``DatabaseUnavailable``): the notices in between were lost, so they listen again at once
(one of them becomes the next relay) and refresh fully. When the relay's own connection
breaks, its peers are told so and raise a plain ``DatabaseUnavailable``, like the relay's own
listeners. Off Linux, or on any socket trouble, a process listens on its own connection, as
before relays.

Packets, not a byte stream: ``SOCK_SEQPACKET`` keeps each JSON message whole, so a sender
never blocks half-way through one and a receiver never parses a torn one. Each side treats
what the other sends as data: sizes are capped and shapes checked. A peer too slow to take a
notice (stopped with ctrl+z, say) is dropped rather than allowed to stall everyone else: it
hears the relay gone when it runs again, and refreshes.

The connection is autocommit (a notification is delivered between transactions only), out of
the engine's pool, and read with ``select`` on its socket and a wake-up pipe, so closing the
last subscriber stops the reader at once.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import random
import re
import select
import socket
import struct
import sys
import threading
import time
import weakref
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from deskterm.db.engine import LISTEN_APPLICATION_NAME, Database, connect_patiently
from deskterm.domain.errors import DatabaseUnavailable

EVENTS_CHANNEL = "deskterm_events"
PRESENCE_CHANNEL = "deskterm_presence"

#: A connection that stops answering without closing (a cable pulled, a VPN dropped) is
#: noticed by TCP keepalives within about idle + interval x count seconds.
_KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
}

#: The largest packet either side accepts: a NOTIFY payload is under 8,000 bytes, and JSON
#: may escape some of it.
_MAX_PACKET = 64 * 1024
#: The payload the relay passes on; PostgreSQL itself refuses longer ones.
_MAX_PAYLOAD = 8000
#: What a channel name may be (an unquoted PostgreSQL identifier), and how many a peer asks for.
_CHANNEL = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$")
_MAX_CHANNELS = 32
#: Binding and joining race other processes doing the same (200 apps losing their relay at
#: once): this many rounds before listening alone.
_RELAY_ROUNDS = 20


class RelayGone(DatabaseUnavailable):
    """The process that listened for this one ended: the database may be fine. Listen again
    at once (someone becomes the next relay) and look at everything: notices were lost."""


@dataclass(frozen=True)
class Notice:
    channel: str
    payload: str
    pid: int
    """The server process of the connection that sent it."""


class Listener:
    """``LISTEN`` on the desk's channels; ``wait`` returns what arrived.

    One thread opens, waits on and closes a listener; the connection under it is shared with
    every other listener of the process (and of the host: see the module's note).
    """

    def __init__(
        self,
        db: Database,
        channels: Sequence[str] = (EVENTS_CHANNEL, PRESENCE_CHANNEL),
        *,
        connect_timeout: float = 5,
    ) -> None:
        if db.is_sqlite:
            raise ValueError("SQLite has no LISTEN: poll latest_event_id instead")
        bad = [c for c in channels if not _CHANNEL.match(c)]
        if bad:
            raise ValueError(f"{bad[0]!r} is not a channel name")
        self.db = db
        self.channels = tuple(channels)
        self.connect_timeout = connect_timeout
        self._hub: _Hub | None = None
        # What arrived and was not yet taken, and the one waiting thread's wake-up: a notice
        # wakes it only on a channel it waits for (``wait``'s ``wake``); the rest is kept.
        self._inbox: list[Notice | DatabaseUnavailable] = []
        self._arrived = threading.Condition(threading.Lock())
        self._wake_on: frozenset[str] | None = None

    def open(self) -> None:
        if self._hub is None:
            self._hub = _subscribe(self)

    @property
    def backend_pid(self) -> int | None:
        """The server process listening (what ``pg_stat_activity`` calls it), whichever
        process of the host holds its connection."""
        return None if self._hub is None else self._hub.backend_pid

    @property
    def relayed(self) -> bool | None:
        """How this process hears: ``True`` through another process's connection, ``False``
        on its own (relaying for others or not); ``None`` while closed."""
        return None if self._hub is None else self._hub.relayed

    def wait(self, timeout: float, *, wake: Sequence[str] | None = None) -> list[Notice]:
        """The notices that arrive within ``timeout`` seconds: as soon as the first does, it
        and whatever came with it; an empty list when nothing did.

        ``wake``: only a notice on one of these channels ends the wait early; the others are
        kept and handed out with it, or when the time is up. An app pacing its looks at a
        busy desk (``desk.live.LivePace``) waits so, with its calls channel as the one that
        must not wait: 500 changes a second then wake its thread a few times a second, not
        500 (200 apps on a host woke a million times a minute)."""
        if self._hub is None:
            raise RuntimeError("the listener is not open")
        deadline = time.monotonic() + max(0.0, timeout)
        with self._arrived:
            self._wake_on = None if wake is None else frozenset(wake)
            try:
                while not self._ready():
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._arrived.wait(left)
            finally:
                self._wake_on = None
            # A burst (a bulk change, several analysts at once) is answered once.
            heard, self._inbox = self._inbox, []
        for item in heard:
            if isinstance(item, DatabaseUnavailable):
                raise item
        return [n for n in heard if isinstance(n, Notice)]

    def _ready(self) -> bool:
        """Under the lock: something arrived that ends a wait now."""
        wake = self._wake_on
        return any(
            isinstance(item, DatabaseUnavailable) or wake is None or item.channel in wake
            for item in self._inbox
        )

    def close(self) -> None:
        hub, self._hub = self._hub, None
        if hub is not None:
            hub.unsubscribe(self)

    def __enter__(self) -> Listener:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _hear(self, item: Notice | DatabaseUnavailable) -> None:
        """Called on the hub's thread: a notice of one of our channels, or the break."""
        with self._arrived:
            self._inbox.append(item)
            wake = self._wake_on
            if isinstance(item, DatabaseUnavailable) or wake is None or item.channel in wake:
                self._arrived.notify()


#: The hubs of this process, by the database they listen to.
_HUBS: dict[tuple[Any, ...], _Hub] = {}
_HUBS_LOCK = threading.Lock()
#: Every hub not yet closed, to let go of in a forked child.
_LIVE: weakref.WeakSet[_Hub] = weakref.WeakSet()
#: What a forked child inherited and must neither use nor close (a closed psycopg connection
#: says goodbye to the server on the parent's socket): kept, untouched, till the child ends.
_INHERITED: list[_Hub] = []


def _forget_hubs() -> None:
    # A forked child (a session of the SSH server) shares its parent's sockets and has none
    # of its threads: it listens on its own, or through a relay. The relay's socket goes at
    # once: a child holding its parent's bound name would keep it taken, unanswered, after
    # the parent ended.
    global _HUBS_LOCK
    for hub in list(_LIVE):
        hub._abandon()
        _INHERITED.append(hub)
    _HUBS.clear()
    _HUBS_LOCK = threading.Lock()


os.register_at_fork(after_in_child=_forget_hubs)


def _subscribe(listener: Listener) -> _Hub:
    """The hub for the listener's database, connected on first use, with the listener in."""
    db = listener.db
    # Where LISTEN goes: the desk's own database unless ``listen_url`` points past a
    # transaction pooler. The engine's own translation of the URL: host, port, database,
    # user, password and options such as a search_path, exactly as the pool connects.
    url = db.listen_url or db.url
    _args, params = db.engine.dialect.create_connect_args(url)
    # The engine's adapters ("context") are its own, and a LISTEN reads no rows.
    params.pop("context", None)
    params.pop("prepare_threshold", None)
    params = {
        **params,
        **_KEEPALIVES,
        "connect_timeout": max(1, round(listener.connect_timeout)),
        "application_name": LISTEN_APPLICATION_NAME,
    }
    # Channels belong to the database, not to a schema: desks in several schemas of one
    # database (a search_path in ``options``) share the connection.
    key = tuple(sorted((k, str(v)) for k, v in params.items() if k not in ("options",)))
    with _HUBS_LOCK:
        hub = _HUBS.get(key)
        if hub is None or hub.broken:
            hub = _Hub(params, db.describe(), _relay_name(params), listener.connect_timeout)
            _HUBS[key] = hub
            try:
                hub.start()
            except BaseException:
                del _HUBS[key]
                raise
        # Under the lock: a hub is never closed by its last subscriber while another joins.
        try:
            hub.subscribe(listener)
        except DatabaseUnavailable as exc:
            failed, error = hub, exc
        else:
            return hub
    # A hub nobody joined is let go, outside the lock its reader may be waiting for.
    failed.unsubscribe(listener)
    raise error


def _relay_name(params: dict[str, Any]) -> bytes | None:
    """The abstract socket of the relay for these connection settings, ``None`` where there
    are none (not Linux).

    The search path is part of it, though channels are not: desks in different schemas of
    one database are different desks (the test suite runs one per test), and a relay's
    failure or an admin's ``pg_terminate_backend`` then stays with the desk it belongs to.
    """
    if not sys.platform.startswith("linux"):
        return None
    # Never the password: the name is on show to every user of the host (/proc/net/unix),
    # and a hash of a weak password beside the known host, user and database is a guess
    # away. The role is named; who may join is decided by uid, not by knowing it.
    who = sorted(
        (k, str(v))
        for k, v in params.items()
        if k not in ("application_name", "connect_timeout", "password", "passfile")
        and not k.startswith("keepalives")
    )
    digest = hashlib.sha256(json.dumps(who).encode()).hexdigest()[:32]
    return f"\0deskterm-listen-{os.getuid()}-{digest}".encode()


def _drop(hub: _Hub) -> None:
    with _HUBS_LOCK:
        for key, known in list(_HUBS.items()):
            if known is hub:
                del _HUBS[key]


def _peer_uid(sock: socket.socket) -> int:
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


def _packet(message: dict[str, Any]) -> bytes:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()


def _receive(sock: socket.socket) -> dict[str, Any] | None:
    """One message; ``None`` at the end. A packet cut short, too big or not a JSON object is
    the other side gone wrong: ``OSError``, like a broken socket."""
    data, _ancillary, flags, _address = sock.recvmsg(_MAX_PACKET)
    if not data:
        return None
    if flags & socket.MSG_TRUNC:
        raise OSError(errno.EMSGSIZE, "relay packet too large")
    try:
        message = json.loads(data)
    except ValueError:
        raise OSError(errno.EPROTO, "relay packet is not JSON") from None
    if not isinstance(message, dict):
        raise OSError(errno.EPROTO, "relay packet is not a message")
    return message


def _channels(value: object) -> list[str]:
    if (
        not isinstance(value, list)
        or len(value) > _MAX_CHANNELS
        or not all(isinstance(c, str) and _CHANNEL.match(c) for c in value)
    ):
        raise OSError(errno.EPROTO, "relay packet names no channels")
    return list(value)


@dataclass
class _Peer:
    """Another process of ours that hears through this one."""

    sock: socket.socket
    channels: set[str]


class _Hub:
    """The notices of one database for every subscriber of the process, from one of:
    a ``LISTEN`` connection of its own (then also relaying to peers, if it holds the relay's
    name), or the relay of another process."""

    def __init__(
        self,
        params: dict[str, Any],
        described: str,
        relay_name: bytes | None,
        timeout: float,
    ) -> None:
        self.params = params
        self.described = described
        self.relay_name = relay_name
        self.timeout = max(0.5, timeout)
        self.broken = False
        self._conn: Any = None
        self._inherited: Any = None
        self._server: socket.socket | None = None
        self._peers: dict[int, _Peer] = {}
        self._relay: socket.socket | None = None
        self._relay_pid: int | None = None
        self._listening: set[str] = set()
        self._acked = threading.Condition()
        self._subscribers: list[Listener] = []
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = os.pipe()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        _LIVE.add(self)

    @property
    def backend_pid(self) -> int | None:
        if self._relay is not None:
            return self._relay_pid
        conn = self._conn
        return None if conn is None else int(conn.info.backend_pid)

    @property
    def relayed(self) -> bool:
        return self._relay is not None

    # ------------------------------------------------------------------ opening

    def start(self) -> None:
        try:
            self._open_source()
        except BaseException:
            self._close_sockets()
            self._close_pipe()
            raise
        target = self._read_relay if self._relay is not None else self._read
        self._thread = threading.Thread(target=target, name="deskterm-listen", daemon=True)
        self._thread.start()

    def _open_source(self) -> None:
        """Join the host's relay, else become it, else (off Linux, another user on the name,
        any socket trouble) listen alone."""
        if self.relay_name is not None:
            with suppress(OSError):
                for _ in range(_RELAY_ROUNDS):
                    joined = self._join(self.relay_name)
                    if joined is not None:
                        if joined:
                            return
                        break  # somebody we do not trust, or who does not answer
                    self._server = self._bind(self.relay_name)
                    if self._server is not None:
                        break
                    # Another process bound it a moment ago: it listens in a moment.
                    time.sleep(random.uniform(0.005, 0.03))
        self._connect()

    def _join(self, name: bytes) -> bool | None:
        """``True``: joined the relay; ``None``: nobody there; ``False``: there, but not to
        be used."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            sock.settimeout(self.timeout)
            try:
                sock.connect(name)
            except (ConnectionRefusedError, FileNotFoundError):
                sock.close()
                return None
            if _peer_uid(sock) != os.getuid():
                sock.close()
                return False
            hello = _receive(sock)
            if hello is None:
                # The relay ended (or could not reach the database) as we came: try again.
                sock.close()
                return None
            pid = hello.get("pid")
            if not isinstance(pid, int) or isinstance(pid, bool):
                raise OSError(errno.EPROTO, "relay said no server process")
        except (ConnectionResetError, BrokenPipeError):
            # A relay ending as we came (its queue of unaccepted peers is reset): try again.
            sock.close()
            return None
        except OSError:
            sock.close()
            return False
        sock.settimeout(None)
        self._relay, self._relay_pid = sock, pid
        return True

    def _bind(self, name: bytes) -> socket.socket | None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            sock.bind(name)
            sock.listen(512)
        except OSError as exc:
            sock.close()
            if exc.errno == errno.EADDRINUSE:
                return None
            raise
        sock.setblocking(False)
        return sock

    def _connect(self) -> None:
        import psycopg

        try:
            self._conn = connect_patiently(lambda: psycopg.connect(autocommit=True, **self.params))
        except psycopg.Error as exc:
            raise self._unavailable(exc) from exc

    # ------------------------------------------------------------------ subscribers

    def subscribe(self, listener: Listener) -> None:
        if self._relay is not None:
            self._subscribe_relayed(listener)
            return
        import psycopg
        from psycopg import sql

        with self._lock:
            if self.broken:
                # The connection broke between looking the hub up and joining it.
                raise DatabaseUnavailable(f"database {self.described} stopped sending changes")
            missing = [c for c in listener.channels if c not in self._listening]
            try:
                for channel in missing:
                    # psycopg's own lock keeps this apart from the reader's turns.
                    self._conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                    self._listening.add(channel)
            except psycopg.Error as exc:
                raise self._unavailable(exc) from exc
            self._subscribers.append(listener)
        if missing:
            # What the LISTEN's round trip read off the socket waits in psycopg's backlog,
            # which select cannot see: the reader looks now.
            self._wake()

    def _subscribe_relayed(self, listener: Listener) -> None:
        # The relay answers on the reader's thread, which also wants the hub's lock to hand
        # out notices: wait for the answer outside it.
        with self._lock:
            if self.broken:
                raise DatabaseUnavailable(f"database {self.described} stopped sending changes")
            missing = [c for c in listener.channels if c not in self._listening]
            relay = self._relay
        if missing and relay is not None:
            try:
                relay.sendall(_packet({"listen": missing}))
            except OSError as exc:
                raise RelayGone(
                    f"database {self.described} stopped sending changes: {exc}"
                ) from exc
            with self._acked:
                heard = self._acked.wait_for(
                    lambda: self.broken or set(missing) <= self._listening, self.timeout
                )
            if not heard or self.broken:
                raise DatabaseUnavailable(
                    f"database {self.described} stopped sending changes: "
                    "the listening process did not answer"
                )
        with self._lock:
            if self.broken:
                raise DatabaseUnavailable(f"database {self.described} stopped sending changes")
            self._subscribers.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        with _HUBS_LOCK, self._lock:
            if listener in self._subscribers:
                self._subscribers.remove(listener)
            last = not self._subscribers
            if last:
                self.broken = True  # never handed out again
        if last:
            _drop(self)
            self._shut()

    def _hand_out(self, notices: list[Notice]) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for notice in notices:
            for listener in subscribers:
                if notice.channel in listener.channels:
                    listener._hear(notice)

    # ------------------------------------------------------------------ reading

    def _read(self) -> None:
        """Our own connection: hand out its notices, and relay them to our peers."""
        import psycopg

        conn = self._conn
        try:
            while not self._stop.is_set():
                server = self._server
                watched = [conn.fileno(), self._wake_r, *self._peers]
                if server is not None:
                    watched.append(server.fileno())
                ready, _, _ = select.select(watched, [], [])
                if self._wake_r in ready:
                    os.read(self._wake_r, 512)
                if self._stop.is_set():
                    break
                if server is not None and server.fileno() in ready:
                    self._accept(server)
                for fd in ready:
                    if fd in self._peers:
                        self._serve(self._peers[fd])
                notices = [Notice(n.channel, n.payload, n.pid) for n in conn.notifies(timeout=0)]
                self._hand_out(notices)
                self._relay_out(notices)
        except (psycopg.Error, OSError, ValueError) as exc:
            # ValueError: select on a socket psycopg has already closed (fileno -1).
            if self._stop.is_set():
                return
            self._fail(self._unavailable(exc))

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                sock, _address = server.accept()
            except BlockingIOError:
                return
            try:
                if _peer_uid(sock) != os.getuid():
                    raise PermissionError("another user")
                sock.setblocking(False)
                sock.send(_packet({"pid": self.backend_pid}))
            except OSError:
                sock.close()
                continue
            self._peers[sock.fileno()] = _Peer(sock, set())

    def _serve(self, peer: _Peer) -> None:
        """A peer's request: listen to more channels. Anything else ends it."""
        from psycopg import sql

        try:
            message = _receive(peer.sock)
            if message is None:
                raise ConnectionResetError("the peer left")
            wanted = _channels(message.get("listen"))
            if len(self._listening | set(wanted)) > _MAX_CHANNELS:
                # A handful is all the desk has: more is a peer gone wrong.
                raise OSError(errno.EPROTO, "too many channels")
        except OSError:
            self._let_go(peer)
            return
        with self._lock:
            for channel in wanted:
                if channel not in self._listening:
                    # A failure here is the connection's: the reader's handler says so.
                    self._conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                    self._listening.add(channel)
        peer.channels.update(wanted)
        self._send(peer, {"listening": wanted})

    def _relay_out(self, notices: list[Notice]) -> None:
        for notice in notices:
            if len(notice.payload) > _MAX_PAYLOAD:
                continue
            packet = _packet({"n": [notice.channel, notice.pid, notice.payload]})
            for peer in list(self._peers.values()):
                if notice.channel in peer.channels:
                    self._send(peer, packet)

    def _send(self, peer: _Peer, message: dict[str, Any] | bytes) -> None:
        packet = message if isinstance(message, bytes) else _packet(message)
        try:
            peer.sock.send(packet)
        except OSError:
            # Full (a stopped process) or gone: it hears the relay gone and catches up.
            self._let_go(peer)

    def _let_go(self, peer: _Peer) -> None:
        self._peers.pop(peer.sock.fileno(), None)
        peer.sock.close()

    def _read_relay(self) -> None:
        """Another process's relay: its notices, its answers, its end."""
        relay = self._relay
        assert relay is not None
        try:
            while not self._stop.is_set():
                ready, _, _ = select.select([relay.fileno(), self._wake_r], [], [])
                if self._wake_r in ready:
                    os.read(self._wake_r, 512)
                if self._stop.is_set():
                    break
                if relay.fileno() not in ready:
                    continue
                message = _receive(relay)
                if message is None:
                    raise RelayGone(
                        f"database {self.described}: the process listening for this one ended"
                    )
                self._take(message)
        except DatabaseUnavailable as exc:
            if not self._stop.is_set():
                self._fail(exc)
        except (OSError, ValueError) as exc:
            if not self._stop.is_set():
                self._fail(RelayGone(f"database {self.described}: listening process: {exc}"))

    def _take(self, message: dict[str, Any]) -> None:
        if "n" in message:
            notice = message["n"]
            if (
                isinstance(notice, list)
                and len(notice) == 3
                and isinstance(notice[0], str)
                and notice[0] in self._listening
                and isinstance(notice[1], int)
                and isinstance(notice[2], str)
                and len(notice[2]) <= _MAX_PAYLOAD
            ):
                self._hand_out([Notice(notice[0], notice[2], notice[1])])
                return
            raise OSError(errno.EPROTO, "relay sent a malformed notice")
        if "listening" in message:
            channels = _channels(message["listening"])
            with self._acked:
                self._listening.update(channels)
                self._acked.notify_all()
            return
        if "broken" in message:
            reason = message["broken"]
            said = reason[:300].splitlines()[0] if isinstance(reason, str) and reason else ""
            raise DatabaseUnavailable(
                f"database {self.described} stopped sending changes: {said or 'broken'}"
            )
        raise OSError(errno.EPROTO, "relay sent an unknown message")

    # ------------------------------------------------------------------ ending

    def _fail(self, error: DatabaseUnavailable) -> None:
        with self._lock:
            self.broken = True
            subscribers, self._subscribers = self._subscribers, []
        with self._acked:
            self._acked.notify_all()
        _drop(self)
        for listener in subscribers:
            listener._hear(error)
        # The peers lost what we lost, for the same reason: not a relay gone, a database.
        reason = str(error).partition("stopped sending changes: ")[2] or str(error)
        for peer in list(self._peers.values()):
            self._send(peer, {"broken": reason})
        self._close_sockets()
        self._close_conn()
        self._close_pipe()

    def _shut(self) -> None:
        self._stop.set()
        server, self._server = self._server, None
        if server is not None:
            # First, so that no peer queues at a relay that is ending.
            with suppress(OSError):
                server.close()
        self._wake()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        self._close_sockets()
        self._close_conn()
        self._close_pipe()

    def _abandon(self) -> None:
        """In a forked child: the parent's threads are not here and its sockets are not
        ours. Unix sockets are closed (only this process's copy goes). The database
        connection must not be closed, nor even freed: libpq would say goodbye on the
        parent's socket and end the parent's session. So the child's copy of that socket
        is swapped for /dev/null first: whatever becomes of the object, the parent's
        session hears nothing from here."""
        # A parent's thread may have held the lock at the fork, and is not here to let go of
        # it: a child closing its inherited listener would wait on it for ever.
        self._lock = threading.Lock()
        self.broken = True
        self._stop = threading.Event()
        self._stop.set()
        self._subscribers = []
        conn, self._conn = self._conn, None
        if conn is not None:
            self._inherited = conn
            with suppress(Exception):
                fd = conn.fileno()
                quiet = os.open(os.devnull, os.O_RDWR)
                try:
                    os.dup2(quiet, fd)
                finally:
                    os.close(quiet)
        self._close_sockets()
        # Not _close_pipe: its lock may have been held by a parent's thread at the fork.
        for fd in (self._wake_r, self._wake_w):
            if fd >= 0:
                with suppress(OSError):
                    os.close(fd)
        self._wake_r = self._wake_w = -1

    def _wake(self) -> None:
        # Under the lock: a closed pipe's number may already be another file's. A closed
        # pipe means the reader is gone.
        with self._lock, suppress(OSError):
            if self._wake_w >= 0:
                os.write(self._wake_w, b"x")

    def _close_sockets(self) -> None:
        socks = [peer.sock for peer in self._peers.values()]
        self._peers = {}
        socks += [s for s in (self._server, self._relay) if s is not None]
        self._server = self._relay = None
        for sock in socks:
            with suppress(OSError):
                sock.close()

    def _close_conn(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            # A broken connection is being let go anyway: closing it may fail too.
            with suppress(Exception):
                conn.close()

    def _close_pipe(self) -> None:
        with self._lock:
            fds, (self._wake_r, self._wake_w) = (self._wake_r, self._wake_w), (-1, -1)
        for fd in fds:
            if fd >= 0:
                with suppress(OSError):
                    os.close(fd)

    def _unavailable(self, exc: Exception) -> DatabaseUnavailable:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return DatabaseUnavailable(f"database {self.described} stopped sending changes: {reason}")
