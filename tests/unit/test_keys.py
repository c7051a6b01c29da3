"""Analysts' SSH keys: what is accepted, who may manage them, and what the server looks up."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from functools import cache

import asyncssh
import pytest
from sqlalchemy import func, select, update

from clirun import run_deskterm
from deskterm.db.models import Analyst, AnalystKey
from deskterm.desk.keys import add_keys, key_owner, key_used, list_keys, remove_key
from deskterm.desk.sshkeys import parse_public_keys
from deskterm.domain.errors import InvalidInput, NotFound, PermissionDenied, UnknownAnalyst
from factories import ADMIN, AGENT, AGENT2, SUPERVISOR, TECH, KnownDesk


@cache
def _private(algorithm: str) -> asyncssh.SSHKey:
    """One key per type for the whole run (RSA takes a moment to make)."""
    key_size = {"ssh-rsa": {"key_size": 2048}}.get(algorithm, {})
    return asyncssh.generate_private_key(algorithm, **key_size)


def public_line(algorithm: str = "ssh-ed25519", comment: str = "") -> str:
    """The key's line as ``ssh-keygen`` writes it in ``*.pub``."""
    line = _private(algorithm).export_public_key("openssh").decode().strip()
    return f"{line} {comment}".strip()


def _line(*fields: bytes, algorithm: str = "ssh-ed25519") -> str:
    """A public key line with hand-made wire data."""
    blob = b"".join(len(f).to_bytes(4, "big") + f for f in fields)
    return f"{algorithm} {base64.b64encode(blob).decode()}"


# --------------------------------------------------------------------------- reading keys


@pytest.mark.parametrize(
    "algorithm",
    ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa"],
)
def test_a_key_has_the_fingerprint_the_ssh_server_computes(algorithm: str) -> None:
    (key,) = parse_public_keys(public_line(algorithm, comment="maria@laptop"))
    assert key.fingerprint == _private(algorithm).get_fingerprint("sha256")
    assert (key.algorithm, key.comment) == (algorithm, "maria@laptop")
    assert key.text == public_line(algorithm)


def test_a_security_key_is_accepted_as_the_server_reads_it() -> None:
    """A FIDO key (``ssh-keygen -t ed25519-sk``): the same fingerprint as the server's."""
    line = _line(b"sk-ssh-ed25519@openssh.com", bytes(range(32)), b"ssh:", algorithm="")
    line = "sk-ssh-ed25519@openssh.com" + line + " yubikey"
    (key,) = parse_public_keys(line)
    assert key.fingerprint == asyncssh.import_public_key(line).get_fingerprint("sha256")
    assert (key.algorithm, key.comment) == ("sk-ssh-ed25519@openssh.com", "yubikey")


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="no ssh-keygen here")
def test_a_key_has_the_fingerprint_ssh_keygen_prints(tmp_path) -> None:
    path = tmp_path / "id"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    printed = subprocess.run(
        ["ssh-keygen", "-lf", f"{path}.pub"], check=True, capture_output=True, text=True
    ).stdout.split()[1]
    (key,) = parse_public_keys((tmp_path / "id.pub").read_text())
    assert key.fingerprint == printed


def test_an_authorized_keys_file_gives_each_key() -> None:
    text = "\n".join(
        [
            "# maria's keys",
            public_line("ssh-ed25519", "laptop"),
            "",
            "   " + public_line("ecdsa-sha2-nistp256", "phone") + "   ",
        ]
    )
    keys = parse_public_keys(text)
    assert [(k.algorithm, k.comment, k.line) for k in keys] == [
        ("ssh-ed25519", "laptop", 2),
        ("ecdsa-sha2-nistp256", "phone", 4),
    ]


ED25519_WIRE = b"ssh-ed25519"


REFUSALS = [
    ("", "no public key found"),
    ("# only a comment\n\n", "no public key found"),
    (
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\n-----END OPENSSH PRIVATE KEY-----",
        "this is a private key",
    ),
    ("PuTTY-User-Key-File-3: ssh-ed25519\n", "this is a private key"),
    ("---- BEGIN SSH2 PUBLIC KEY ----\nAAAA\n---- END SSH2 PUBLIC KEY ----", "ssh-keygen -i"),
    ("hello world", "not an OpenSSH public key"),
    ("ssh-ed25519", "has no key data"),
    ("ssh-ed25519 AAAA!!!!", "not valid base64"),
    ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIO", "not valid base64"),
    (_line(ED25519_WIRE, b"x" * 31), "damaged"),
    (_line(ED25519_WIRE, b"x" * 32, b"more"), "damaged"),
    (_line(b"ssh-rsa", b"\x01\x00\x01", b"x" * 256), "is a 'ssh-rsa' key, but the line says"),
    (
        _line(b"ssh-rsa", b"\x01\x00\x01", b"\x00\xc0" + b"x" * 127, algorithm="ssh-rsa"),
        "1024-bit RSA key is too weak",
    ),
    (
        _line(
            b"ecdsa-sha2-nistp256",
            b"nistp384",
            b"\x04" + b"x" * 96,
            algorithm="ecdsa-sha2-nistp256",
        ),
        "damaged",
    ),
    ("ssh-dss AAAAB3NzaC1kc3M=", "DSA keys are too weak"),
    ("ssh-ed25519-cert-v01@openssh.com AAAA", "an SSH certificate"),
    ('from="10.0.0.0/8",no-pty ' + public_line(), "starts with options"),
    (public_line() + "\n" + public_line(), "line 2 repeats the key of line 1"),
    (public_line() + "\nnonsense", "line 2 is not an OpenSSH public key"),
    (public_line("ssh-ed25519", "x" * 201), "comment is too long"),
]


@pytest.mark.parametrize(("text", "said"), REFUSALS, ids=[said for _, said in REFUSALS])
def test_what_is_not_a_usable_public_key_is_refused_in_words(text: str, said: str) -> None:
    with pytest.raises(InvalidInput, match=said.replace("(", r"\(")):
        parse_public_keys(text)


def _wire(*fields: bytes) -> bytes:
    return b"".join(len(f).to_bytes(4, "big") + f for f in fields)


def _fields(algorithm: str) -> list[bytes]:
    """The length-prefixed fields of a real key's data, its type name first."""
    blob = _private(algorithm).public_data
    fields = []
    while blob:
        size = int.from_bytes(blob[:4], "big")
        fields.append(blob[4 : 4 + size])
        blob = blob[4 + size :]
    return fields


def test_a_security_key_on_its_curve_is_accepted_as_the_server_reads_it() -> None:
    """``ssh-keygen -t ecdsa-sk``: a P-256 point, then the application."""
    _, curve, point = _fields("ecdsa-sha2-nistp256")
    algorithm = "sk-ecdsa-sha2-nistp256@openssh.com"
    line = (
        f"{algorithm} {base64.b64encode(_wire(algorithm.encode(), curve, point, b'ssh:')).decode()}"
    )
    (key,) = parse_public_keys(line + " yubikey")
    assert key.fingerprint == asyncssh.import_public_key(line).get_fingerprint("sha256")
    assert (key.algorithm, key.text, key.comment) == (algorithm, line, "yubikey")


def _as_line(algorithm: str, *fields: bytes) -> str:
    return f"{algorithm} {base64.b64encode(_wire(algorithm.encode(), *fields)).decode()}"


def _compressed(algorithm: str) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return (
        _private(algorithm)
        .pyca_key.public_key()
        .public_bytes(Encoding.X962, PublicFormat.CompressedPoint)
    )


def test_key_data_asyncssh_reads_but_openssh_never_writes_is_damaged() -> None:
    """asyncssh reads these; no OpenSSH client could sign in with them."""
    _, curve384, point384 = _fields("ecdsa-sha2-nistp384")
    _, curve256, _ = _fields("ecdsa-sha2-nistp256")
    _, exponent, modulus = _fields("ssh-rsa")
    sk = "sk-ecdsa-sha2-nistp256@openssh.com"
    _, _, point256 = _fields("ecdsa-sha2-nistp256")
    for line in (
        # A P-384 key under the P-256 type name.
        _as_line("ecdsa-sha2-nistp256", curve384, point384),
        # A compressed point (OpenSSH reads uncompressed points only).
        _as_line("ecdsa-sha2-nistp256", curve256, _compressed("ecdsa-sha2-nistp256")),
        # An RSA modulus with a needless leading zero: the same number, other bytes.
        _as_line("ssh-rsa", exponent, b"\x00" + modulus),
        # A security key with something after its application.
        _as_line(sk, curve256, point256, b"ssh:", b"more"),
        # A security key on a curve its type does not name.
        _as_line(sk, curve384, point384, b"ssh:"),
    ):
        with pytest.raises(InvalidInput, match="damaged"):
            parse_public_keys(line)


def test_a_weak_rsa_key_is_refused_with_its_size() -> None:
    weak = asyncssh.generate_private_key("ssh-rsa", key_size=1024)
    with pytest.raises(InvalidInput, match="1024-bit RSA key is too weak"):
        parse_public_keys(weak.export_public_key("openssh").decode())


def test_reading_keys_loads_asyncssh_only_when_a_key_is_read() -> None:
    """`key list` and every command that reads no key start without asyncssh."""
    code = (
        "import sys, deskterm.desk.keys, deskterm.cli.people;"
        "print(sorted(m for m in ('asyncssh', 'cryptography') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_a_comment_cannot_carry_escape_sequences() -> None:
    (key,) = parse_public_keys(public_line() + " \x1b]0;owned\x07maria")
    assert key.comment == "maria"


# --------------------------------------------------------------------------- the desk


def test_an_admin_registers_a_key_and_the_server_finds_its_analyst(known: KnownDesk) -> None:
    admin = known.as_(ADMIN)
    (added,) = admin.write(add_keys, login=SUPERVISOR, text=public_line(comment="sam@home"))
    assert (added.login, added.name, added.comment, added.added_by) == (
        SUPERVISOR,
        "Sam Supervisor",
        "sam@home",
        ADMIN,
    )
    assert added.last_used_at is None
    system = known.as_(None)
    owner = system.read(key_owner, fingerprint=_private("ssh-ed25519").get_fingerprint("sha256"))
    assert owner is not None and owner.login == SUPERVISOR
    assert system.read(key_owner, fingerprint="SHA256:" + "A" * 43) is None

    system.write(key_used, fingerprint=added.fingerprint)
    (listed,) = admin.read(list_keys, login=SUPERVISOR)
    assert listed.last_used_at is not None


def test_one_key_signs_in_one_analyst(known: KnownDesk) -> None:
    admin = known.as_(ADMIN)
    admin.write(add_keys, login=SUPERVISOR, text=public_line())
    with pytest.raises(InvalidInput, match=f"registered to {SUPERVISOR} already"):
        admin.write(add_keys, login=TECH, text=public_line())
    with pytest.raises(InvalidInput, match=f"registered to {SUPERVISOR} already"):
        admin.write(add_keys, login=SUPERVISOR, text=public_line())
    assert [k.login for k in admin.read(list_keys)] == [SUPERVISOR]


def test_a_file_with_one_bad_line_adds_none_of_its_keys(known: KnownDesk) -> None:
    text = public_line("ecdsa-sha2-nistp256") + "\n" + public_line("ssh-ed25519")[:-30] + "\n"
    with pytest.raises(InvalidInput, match="line 2"):
        known.as_(ADMIN).write(add_keys, login=AGENT, text=text)
    with known.db.read() as session:
        assert session.scalar(select(func.count()).select_from(AnalystKey)) == 0


def test_an_analyst_manages_their_own_keys_and_only_an_admin_anyone_s(known: KnownDesk) -> None:
    alice = known.as_(AGENT)
    (own,) = alice.write(add_keys, login=AGENT, text=public_line(), comment="alice's desk")
    assert own.comment == "alice's desk"
    with pytest.raises(PermissionDenied, match=f"only an admin may add keys for {AGENT2}"):
        alice.write(add_keys, login=AGENT2, text=public_line("ecdsa-sha2-nistp256"))
    known.as_(ADMIN).write(add_keys, login=AGENT2, text=public_line("ecdsa-sha2-nistp256"))

    # Each sees their own; a supervisor sees everyone's.
    assert [k.login for k in alice.read(list_keys)] == [AGENT]
    with pytest.raises(PermissionDenied):
        alice.read(list_keys, login=AGENT2)
    assert {k.login for k in known.as_(SUPERVISOR).read(list_keys)} == {AGENT, AGENT2}
    with pytest.raises(PermissionDenied, match="only an admin may remove"):
        known.as_(SUPERVISOR).write(remove_key, login=AGENT, key=str(own.id))
    with pytest.raises(PermissionDenied):
        alice.write(remove_key, login=AGENT2, key="#1")


def test_a_removed_key_or_a_deactivated_analyst_no_longer_signs_in(known: KnownDesk) -> None:
    admin, system = known.as_(ADMIN), known.as_(None)
    (by_id,) = admin.write(add_keys, login=TECH, text=public_line("ssh-ed25519"))
    (by_print,) = admin.write(add_keys, login=TECH, text=public_line("ecdsa-sha2-nistp256"))
    (other,) = admin.write(add_keys, login=AGENT2, text=public_line("ecdsa-sha2-nistp384"))

    with pytest.raises(NotFound, match=f"{TECH} has no key"):
        admin.write(remove_key, login=TECH, key=f"#{other.id}")  # someone else's key
    assert admin.write(remove_key, login=TECH, key=f"#{by_id.id}").id == by_id.id
    # As copied from `key list`, or without the SHA256: prefix.
    admin.write(remove_key, login=TECH, key=by_print.fingerprint.removeprefix("SHA256:"))
    assert system.read(key_owner, fingerprint=by_id.fingerprint) is None
    assert system.read(key_owner, fingerprint=by_print.fingerprint) is None
    assert admin.read(list_keys, login=TECH) == []

    with known.db.write() as session:
        session.execute(update(Analyst).where(Analyst.login == AGENT2).values(active=False))
    assert system.read(key_owner, fingerprint=other.fingerprint) is None
    with pytest.raises(InvalidInput, match="deactivated"):
        admin.write(add_keys, login=AGENT2, text=public_line("ssh-ed25519"))


def test_keys_of_nobody_are_refused(known: KnownDesk) -> None:
    with pytest.raises(UnknownAnalyst, match="nobody"):
        known.as_(ADMIN).write(add_keys, login="nobody", text=public_line())
    with pytest.raises(InvalidInput, match="comment is too long"):
        known.as_(ADMIN).write(add_keys, login=AGENT, text=public_line(), comment="x" * 201)


# --------------------------------------------------------------------------- the CLI


@pytest.fixture
def cli(known: KnownDesk, monkeypatch, capsys):
    """``deskterm ARGS`` in-process on the known desk, as a script would run it."""
    monkeypatch.setenv("DESKTERM_DATABASE_URL", known.db.url.render_as_string(hide_password=False))
    monkeypatch.setenv("COLUMNS", "160")

    def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
        return run_deskterm(monkeypatch, capsys, *args, stdin=stdin)

    return run


def test_key_commands_add_list_and_remove(cli, tmp_path) -> None:
    pub = tmp_path / "id_ed25519.pub"
    pub.write_text(public_line(comment="sam@laptop") + "\n")
    fingerprint = _private("ssh-ed25519").get_fingerprint("sha256")

    code, out, err = cli("--as", ADMIN, "analyst", "key", "add", SUPERVISOR, str(pub))
    assert code == 0, err
    assert f"added {fingerprint} (ssh-ed25519, sam@laptop) for {SUPERVISOR}" in out
    code, out, err = cli(
        "--as", SUPERVISOR, "analyst", "key", "add", SUPERVISOR, "-", stdin=public_line("ssh-rsa")
    )
    assert code == 0, err

    code, out, _ = cli("--as", SUPERVISOR, "analyst", "key", "list", "--json")
    listed = json.loads(out)
    assert [(k["login"], k["algorithm"]) for k in listed] == [
        (SUPERVISOR, "ssh-ed25519"),
        (SUPERVISOR, "ssh-rsa"),
    ]
    assert {"id", "fingerprint", "comment", "added_at", "last_used_at"} <= set(listed[0])
    assert listed[0]["last_used_at"] is None
    code, out, _ = cli("--as", SUPERVISOR, "analyst", "key", "list")
    # Whatever the width (the workers of a parallel run may see 80 columns), the fingerprint
    # that `key remove` takes is shown whole.
    assert fingerprint in out

    code, out, err = cli("--as", ADMIN, "analyst", "key", "remove", SUPERVISOR, fingerprint)
    assert code == 0, err
    assert f"removed {fingerprint}" in out
    code, out, _ = cli("--as", SUPERVISOR, "analyst", "key", "list", "--json")
    assert [k["algorithm"] for k in json.loads(out)] == ["ssh-rsa"]


def test_key_commands_refuse_in_one_line_and_change_nothing(cli, tmp_path) -> None:
    private = tmp_path / "id_ed25519"
    private.write_bytes(_private("ssh-ed25519").export_private_key("openssh"))
    binary = tmp_path / "key.bin"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    pub = tmp_path / "id.pub"
    pub.write_text(public_line())

    for args, code, said in (
        (("--as", ADMIN, "analyst", "key", "add", TECH, str(private)), 1, "this is a private key"),
        (("--as", ADMIN, "analyst", "key", "add", TECH, str(binary)), 1, "is not a text file"),
        (
            ("--as", ADMIN, "analyst", "key", "add", TECH, str(tmp_path / "no.pub")),
            1,
            "cannot read",
        ),
        (("--as", AGENT, "analyst", "key", "add", TECH, str(pub)), 3, "only an admin may add"),
        (("--as", ADMIN, "analyst", "key", "remove", TECH, "#99"), 1, f"{TECH} has no key"),
    ):
        got, out, err = cli(*args)
        assert got == code, (args, err)
        assert err.startswith("deskterm: ") and said in err and err.count("\n") == 1, err
        assert out == ""
    _, out, _ = cli("--as", ADMIN, "analyst", "key", "list", "--json")
    assert json.loads(out) == []
