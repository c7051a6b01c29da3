"""Reading the public keys analysts hand in: one ``ssh-ed25519 AAAA... comment`` a line.

asyncssh reads each key, the same library that ``deskterm serve ssh`` reads the client's key
with, so the ``SHA256:`` fingerprint stored here is the one the server looks up (and the one
``ssh-keygen -lf`` prints). Around it, this module refuses in one clear line, naming the
line, what asyncssh would accept but the desk does not (DSA, certificates, options in front
of a key, RSA under 2048 bits) and what is not a public key at all (a private key, an SSH2
file). A key whose data is not written exactly as OpenSSH writes it is refused as damaged: a
client could never sign in with it, since the server fingerprints what the client sends.

asyncssh and cryptography are imported when a key is read, not with this module: listing
keys, and every other command, starts without them.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from deskterm.domain.errors import InvalidInput
from deskterm.domain.sshkeys import (
    COMMENT_MAX,
    KEY_TYPES,
    RSA_MIN_BITS,
    SECURITY_KEYS,
    TEXT_MAX,
    WEAK,
)
from deskterm.domain.text import clean_line
from deskterm.i18n import _

if TYPE_CHECKING:
    from asyncssh import SSHKey

_CERT = re.compile(r"-cert-v0\d@openssh\.com$")
_BASE64 = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")


@dataclass(frozen=True)
class PublicKey:
    """One key, as read from its line."""

    algorithm: str
    #: ``SHA256:`` and the unpadded base64 of the SHA-256 of the key data.
    fingerprint: str
    #: ``TYPE BASE64``: the key itself, without options or comment.
    text: str
    comment: str
    #: Which line of the text it came from (1-based), for messages.
    line: int


def parse_public_keys(text: str) -> list[PublicKey]:
    """Every key of ``text`` (one key, or an ``authorized_keys``-style list with ``#``
    comments and blank lines). Refuses the whole text, naming the line, if any line is not a
    public key this desk accepts."""
    if len(text) > TEXT_MAX:
        raise InvalidInput(
            _("the key file is too big ({n:,} characters): give a public key file").format(
                n=len(text)
            ),
            field="key",
        )
    _refuse_other_formats(text)
    keys: list[PublicKey] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key = _parse_line(line, number)
        if key.fingerprint in seen:
            raise InvalidInput(
                _("line {number} repeats the key of line {seen}").format(
                    number=number, seen=seen[key.fingerprint]
                ),
                field="key",
            )
        seen[key.fingerprint] = number
        keys.append(key)
    if not keys:
        raise InvalidInput(
            _(
                "no public key found: give a file like ~/.ssh/id_ed25519.pub "
                "(one 'ssh-ed25519 AAAA... comment' line)"
            ),
            field="key",
        )
    return keys


def _refuse_other_formats(text: str) -> None:
    if re.search(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----", text) or "PuTTY-User-Key-File" in text:
        raise InvalidInput(
            _(
                "this is a private key: never hand it out; give its public half instead "
                "(the .pub file beside it, or the output of `ssh-keygen -y -f KEYFILE`)"
            ),
            field="key",
        )
    if "---- BEGIN SSH2 PUBLIC KEY ----" in text:
        raise InvalidInput(
            _(
                "this is an RFC 4716 (SSH2) public key: convert it to OpenSSH's one-line form "
                "with `ssh-keygen -i -f FILE` and give that"
            ),
            field="key",
        )


def _parse_line(line: str, number: int) -> PublicKey:
    words = line.split()
    algorithm = words[0]
    where = _("line {number}").format(number=number)
    if algorithm not in KEY_TYPES:
        if algorithm in WEAK:
            raise InvalidInput(
                _("{where}: {weakness}; use an ed25519 key").format(
                    where=where, weakness=_(WEAK[algorithm])
                ),
                field="key",
            )
        if _CERT.search(algorithm):
            raise InvalidInput(
                _("{where} is an SSH certificate: register the key it certifies instead").format(
                    where=where
                ),
                field="key",
            )
        if any(word in KEY_TYPES for word in words[1:]):
            # authorized_keys options (from=, command=, ...) would mean something to OpenSSH
            # that this desk's server would not do: refused rather than silently ignored.
            raise InvalidInput(
                _(
                    "{where} starts with options ({clip}) that deskterm's SSH server would not "
                    "apply: give the key alone"
                ).format(where=where, clip=_clip(algorithm)),
                field="key",
            )
        raise InvalidInput(
            _(
                "{where} is not an OpenSSH public key (expected 'ssh-ed25519 AAAA... comment', "
                "found {clip!r})"
            ).format(where=where, clip=_clip(line)),
            field="key",
        )
    if len(words) < 2:
        raise InvalidInput(
            _("{where}: the {algorithm} key has no key data").format(
                where=where, algorithm=algorithm
            ),
            field="key",
        )
    data = words[1]
    try:
        if not _BASE64.match(data):
            raise ValueError(data)
        blob = base64.b64decode(data, validate=True)
    except (ValueError, binascii.Error):
        raise InvalidInput(
            _("{where}: the key data is not valid base64").format(where=where), field="key"
        ) from None
    key = _read_key(algorithm, blob, where)
    comment = clean_line(" ".join(words[2:]))
    if len(comment) > COMMENT_MAX:
        raise InvalidInput(
            _(
                "{where}: the key's comment is too long ({n} characters; at most "
                "{limit}): shorten it or give --comment"
            ).format(where=where, n=len(comment), limit=COMMENT_MAX),
            field="comment",
        )
    return PublicKey(
        algorithm=algorithm,
        fingerprint=key.get_fingerprint("sha256"),
        text=key.export_public_key("openssh").decode("ascii").strip(),
        comment=comment,
        line=number,
    )


def _clip(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _read_key(algorithm: str, blob: bytes, where: str) -> SSHKey:
    """The key of ``blob``, which its line says is an ``algorithm`` key."""
    from asyncssh.packet import SSHPacket
    from asyncssh.public_key import decode_ssh_public_key
    from cryptography.hazmat.primitives.asymmetric import rsa

    damaged = InvalidInput(
        _("{where}: the key data is damaged (not a whole {algorithm} key)").format(
            where=where, algorithm=algorithm
        ),
        field="key",
    )
    packet = SSHPacket(blob)
    try:
        named = packet.get_string()
    except ValueError:
        raise damaged from None
    if named != algorithm.encode("ascii"):
        shown = named.decode("ascii", "replace")[:40]
        raise InvalidInput(
            _("{where}: the key data is a {shown!r} key, but the line says {algorithm}").format(
                where=where, shown=shown, algorithm=algorithm
            ),
            field="key",
        )
    try:
        # asyncssh's refusals (KeyImportError, a truncated or overlong packet) and
        # cryptography's (a point off the curve, an Ed25519 key of the wrong size) are all
        # ValueErrors.
        key = decode_ssh_public_key(blob)
    except ValueError:
        raise damaged from None
    if not _as_openssh_writes_it(key, algorithm, packet.get_remaining_payload()):
        raise damaged
    pyca = key.pyca_key
    if isinstance(pyca, rsa.RSAPublicKey) and pyca.key_size < RSA_MIN_BITS:
        raise InvalidInput(
            _(
                "{where}: a {key_size}-bit RSA key is too weak (at least {min_bits} bits; "
                "better an ed25519 key: `ssh-keygen -t ed25519`)"
            ).format(where=where, key_size=pyca.key_size, min_bits=RSA_MIN_BITS),
            field="key",
        )
    return key


def _as_openssh_writes_it(key: SSHKey, algorithm: str, numbers: bytes) -> bool:
    """Whether ``numbers`` (the key data after its type name) are the key's numbers written
    as OpenSSH writes them for its type.

    asyncssh reads more than OpenSSH writes: an ECDSA key on another curve than its type
    names, a compressed point, an RSA number with extra leading zeros. cryptography writes
    the plain key again; a security key's data is the plain key's followed by its
    application name (``ssh:``), which asyncssh has read to the end.
    """
    from asyncssh.packet import SSHPacket
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    pyca = key.pyca_key
    if not isinstance(
        pyca, rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
    ):
        return False
    try:
        plain, data = pyca.public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).split()[:2]
    except ValueError:  # a curve OpenSSH has no name for
        return False
    if plain.decode("ascii") != SECURITY_KEYS.get(algorithm, algorithm):
        return False
    written = SSHPacket(base64.b64decode(data))
    written.get_string()
    expected = written.get_remaining_payload()
    if algorithm in SECURITY_KEYS:
        return numbers.startswith(expected)
    return numbers == expected
