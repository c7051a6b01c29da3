"""OpenSSH public keys as analysts hand them in: what the desk accepts and how it names them.

Only the rules live here (which key types, how big, what a fingerprint looks like as people
copy it); reading a key's wire form and computing its fingerprint is asyncssh's job, in
``desk/sshkeys.py``, so that the key the desk stores and the key the SSH server is shown are
read by the same code.
"""

from __future__ import annotations

from deskterm.i18n import N_

ED25519 = "ssh-ed25519"
RSA = "ssh-rsa"
ECDSA = ("ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521")
SK_ED25519 = "sk-ssh-ed25519@openssh.com"
SK_ECDSA = "sk-ecdsa-sha2-nistp256@openssh.com"
#: Key types an analyst may register.
KEY_TYPES = (ED25519, *ECDSA, SK_ED25519, SK_ECDSA, RSA)
#: A security key's type, and the plain type whose key data it carries before its
#: application name (``ssh:``).
SECURITY_KEYS = {SK_ED25519: ED25519, SK_ECDSA: "ecdsa-sha2-nistp256"}

#: What ``ssh-keygen -l`` calls each type, short enough for a table column.
_LABELS = {
    ED25519: "ED25519",
    RSA: "RSA",
    **dict.fromkeys(ECDSA, "ECDSA"),
    SK_ED25519: "ED25519-SK",
    SK_ECDSA: "ECDSA-SK",
}

RSA_MIN_BITS = 2048
COMMENT_MAX = 200
#: An authorized_keys file of a few hundred keys fits; anything bigger is not a key file.
TEXT_MAX = 1_000_000

#: Types OpenSSH itself gave up, with why.
WEAK = {"ssh-dss": N_("DSA keys are too weak and OpenSSH no longer accepts them")}


def key_label(algorithm: str) -> str:
    return _LABELS.get(algorithm, algorithm)


def fingerprint_form(text: str) -> str:
    """A fingerprint as people copy it: with or without ``SHA256:`` (case matters after it:
    it is base64)."""
    value = text.strip()
    if value[:7].upper() == "SHA256:":
        value = value[7:]
    return f"SHA256:{value}"
