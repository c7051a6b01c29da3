"""OpenSSH public keys as analysts hand them in: one ``ssh-ed25519 AAAA... comment`` a line.

Parsed and checked here, without any SSH library, so that the desk can refuse a bad key in
one clear line before it is stored: the key data must be the wire form its type announces
(RSA of at least 2048 bits, the right curve and point size for ECDSA, 32 bytes for Ed25519)
and nothing more. The fingerprint is OpenSSH's ``SHA256:`` form, the one ``ssh-keygen -lf``
prints and SSH servers compute from the same bytes, so the server can look a key up by it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from deskterm.domain.errors import InvalidInput
from deskterm.domain.text import clean_line

#: Key types an analyst may register, with how their wire form reads after the type name.
_ED25519 = "ssh-ed25519"
_RSA = "ssh-rsa"
_ECDSA = {
    "ecdsa-sha2-nistp256": ("nistp256", 65),
    "ecdsa-sha2-nistp384": ("nistp384", 97),
    "ecdsa-sha2-nistp521": ("nistp521", 133),
}
_SK_ED25519 = "sk-ssh-ed25519@openssh.com"
_SK_ECDSA = "sk-ecdsa-sha2-nistp256@openssh.com"
KEY_TYPES = (_ED25519, *_ECDSA, _SK_ED25519, _SK_ECDSA, _RSA)

#: What ``ssh-keygen -l`` calls each type, short enough for a table column.
_LABELS = {
    _ED25519: "ED25519",
    _RSA: "RSA",
    **dict.fromkeys(_ECDSA, "ECDSA"),
    _SK_ED25519: "ED25519-SK",
    _SK_ECDSA: "ECDSA-SK",
}

RSA_MIN_BITS = 2048
COMMENT_MAX = 200
#: An authorized_keys file of a few hundred keys fits; anything bigger is not a key file.
TEXT_MAX = 1_000_000

_WEAK = {"ssh-dss": "DSA keys are too weak and OpenSSH no longer accepts them"}
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


def fingerprint(blob: bytes) -> str:
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode("ascii").rstrip("=")
    return f"SHA256:{digest}"


def key_label(algorithm: str) -> str:
    return _LABELS.get(algorithm, algorithm)


def fingerprint_form(text: str) -> str:
    """A fingerprint as people copy it: with or without ``SHA256:`` (case matters after it:
    it is base64)."""
    value = text.strip()
    if value[:7].upper() == "SHA256:":
        value = value[7:]
    return f"SHA256:{value}"


def parse_public_keys(text: str) -> list[PublicKey]:
    """Every key of ``text`` (one key, or an ``authorized_keys``-style list with ``#``
    comments and blank lines). Refuses the whole text, naming the line, if any line is not a
    public key this desk accepts."""
    if len(text) > TEXT_MAX:
        raise InvalidInput(
            f"the key file is too big ({len(text):,} characters): give a public key file",
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
                f"line {number} repeats the key of line {seen[key.fingerprint]}", field="key"
            )
        seen[key.fingerprint] = number
        keys.append(key)
    if not keys:
        raise InvalidInput(
            "no public key found: give a file like ~/.ssh/id_ed25519.pub "
            "(one 'ssh-ed25519 AAAA... comment' line)",
            field="key",
        )
    return keys


def _refuse_other_formats(text: str) -> None:
    if re.search(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----", text) or "PuTTY-User-Key-File" in text:
        raise InvalidInput(
            "this is a private key: never hand it out; give its public half instead "
            "(the .pub file beside it, or the output of `ssh-keygen -y -f KEYFILE`)",
            field="key",
        )
    if "---- BEGIN SSH2 PUBLIC KEY ----" in text:
        raise InvalidInput(
            "this is an RFC 4716 (SSH2) public key: convert it to OpenSSH's one-line form "
            "with `ssh-keygen -i -f FILE` and give that",
            field="key",
        )


def _parse_line(line: str, number: int) -> PublicKey:
    words = line.split()
    algorithm = words[0]
    where = f"line {number}"
    if algorithm not in KEY_TYPES:
        if algorithm in _WEAK:
            raise InvalidInput(f"{where}: {_WEAK[algorithm]}; use an ed25519 key", field="key")
        if _CERT.search(algorithm):
            raise InvalidInput(
                f"{where} is an SSH certificate: register the key it certifies instead",
                field="key",
            )
        if any(word in KEY_TYPES for word in words[1:]):
            # authorized_keys options (from=, command=, ...) would mean something to OpenSSH
            # that this desk's server would not do: refused rather than silently ignored.
            raise InvalidInput(
                f"{where} starts with options ({_clip(algorithm)}) that deskterm's SSH server "
                "would not apply: give the key alone",
                field="key",
            )
        raise InvalidInput(
            f"{where} is not an OpenSSH public key (expected 'ssh-ed25519 AAAA... comment', "
            f"found {_clip(line)!r})",
            field="key",
        )
    if len(words) < 2:
        raise InvalidInput(f"{where}: the {algorithm} key has no key data", field="key")
    data = words[1]
    try:
        if not _BASE64.match(data):
            raise ValueError(data)
        blob = base64.b64decode(data, validate=True)
    except (ValueError, binascii.Error):
        raise InvalidInput(f"{where}: the key data is not valid base64", field="key") from None
    _check_wire_form(algorithm, blob, where)
    comment = clean_line(" ".join(words[2:]))
    if len(comment) > COMMENT_MAX:
        raise InvalidInput(
            f"{where}: the key's comment is too long ({len(comment)} characters; at most "
            f"{COMMENT_MAX}): shorten it or give --comment",
            field="comment",
        )
    return PublicKey(
        algorithm=algorithm,
        fingerprint=fingerprint(blob),
        text=f"{algorithm} {base64.b64encode(blob).decode('ascii')}",
        comment=comment,
        line=number,
    )


def _clip(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Reader:
    """The SSH wire form (RFC 4251): length-prefixed strings and integers."""

    def __init__(self, blob: bytes) -> None:
        self.blob = blob
        self.at = 0

    def string(self) -> bytes:
        if self.at + 4 > len(self.blob):
            raise ValueError("truncated")
        size = int.from_bytes(self.blob[self.at : self.at + 4], "big")
        start = self.at + 4
        if start + size > len(self.blob):
            raise ValueError("truncated")
        self.at = start + size
        return self.blob[start : self.at]

    def end(self) -> None:
        if self.at != len(self.blob):
            raise ValueError("trailing data")


def _check_wire_form(algorithm: str, blob: bytes, where: str) -> None:
    reader = _Reader(blob)
    try:
        named = reader.string()
        if named != algorithm.encode("ascii"):
            shown = named.decode("ascii", "replace")[:40]
            raise InvalidInput(
                f"{where}: the key data is a {shown!r} key, but the line says {algorithm}",
                field="key",
            )
        if algorithm in (_ED25519, _SK_ED25519):
            if len(reader.string()) != 32:
                raise ValueError("an Ed25519 key is 32 bytes")
        elif algorithm == _RSA:
            exponent, modulus = reader.string(), reader.string()
            if not exponent or not modulus or modulus[0] & 0x80 or exponent[0] & 0x80:
                raise ValueError("RSA numbers must be positive")
            bits = int.from_bytes(modulus, "big").bit_length()
            if bits < RSA_MIN_BITS:
                raise InvalidInput(
                    f"{where}: a {bits}-bit RSA key is too weak (at least {RSA_MIN_BITS} bits; "
                    "better an ed25519 key: `ssh-keygen -t ed25519`)",
                    field="key",
                )
        else:
            curve, point_size = _ECDSA.get(algorithm, ("nistp256", 65))
            if reader.string() != curve.encode("ascii"):
                raise ValueError("wrong curve")
            point = reader.string()
            if len(point) != point_size or point[0] != 4:
                raise ValueError("not an uncompressed point of the curve")
        if algorithm in (_SK_ED25519, _SK_ECDSA):
            reader.string()  # the security key's application, usually "ssh:"
        reader.end()
    except ValueError:
        raise InvalidInput(
            f"{where}: the key data is damaged (not a whole {algorithm} key)", field="key"
        ) from None
