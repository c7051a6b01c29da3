"""Long text in the analyst's own editor (``$VISUAL``, ``$EDITOR``, else ``vi``), as
``git commit`` and RT's ``rt`` do it: the text goes to a temporary file only its owner may
read (0600), the editor runs on it, and what it saved comes back; the file is removed after.

Used by the app (``ctrl+e`` in a note, description or reply, with the app suspended) and by
``deskterm ticket note REF --edit``. Both faces import it; nothing here draws or asks.

Never under ``deskterm serve ssh``: the server marks its sessions (``SERVED_ENV``), and an
editor there would be a program of the server's choosing run as the server's account with
the analyst at its keyboard: ``:!sh`` in vi is a shell on the server, which a desk sign-in
must never give. The editor is the environment's, as every Unix tool reads it (the same
variables ``git`` reads), so it is read here and not from deskterm's settings.
"""

from __future__ import annotations

import os
import shlex
import subprocess  # nosec B404 (the analyst's own editor, as git runs it)
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from deskterm.i18n import _

#: Set by ``deskterm serve ssh`` in the environment of each session's app.
SERVED_ENV = "DESKTERM_SERVED"
#: Read back from the editor at most this much (the longest note is far shorter).
READ_MAX = 4 * 1024 * 1024


class EditorFailed(Exception):
    """The editor could not run or did not end well; ``str()`` is one readable line."""


@dataclass(frozen=True)
class Edited:
    """What came back: the text, with the ``#`` lines dropped when asked."""

    text: str
    changed: bool


def served_over_ssh(environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return env.get(SERVED_ENV, "") == "ssh"


def editor_command(environ: Mapping[str, str] | None = None) -> list[str]:
    """``$VISUAL``, else ``$EDITOR``, else ``vi``, split as a shell would (``code --wait``)."""
    env = os.environ if environ is None else environ
    for name in ("VISUAL", "EDITOR"):
        value = env.get(name, "").strip()
        if value:
            try:
                words = shlex.split(value)
            except ValueError as exc:
                raise EditorFailed(
                    _("${name} cannot be read as a command ({problem})").format(
                        name=name, problem=exc
                    )
                ) from None
            if words:
                return words
    return ["vi"]


def strip_comments(text: str) -> str:
    """The text less its lines starting with ``#`` (the template's help), trimmed."""
    return "\n".join(line for line in text.splitlines() if not line.startswith("#")).strip()


def edit(
    text: str,
    *,
    suffix: str = ".txt",
    environ: Mapping[str, str] | None = None,
) -> Edited:
    """Run the editor on ``text``; raise ``EditorFailed`` when it could not run, failed
    (non-zero exit) or left no file behind. The caller suspends its screen around this."""
    if served_over_ssh(environ):
        raise EditorFailed(
            _(
                "no editor over deskterm's SSH server: it would run on the server, as the "
                "server's account (type the text here, or paste it)"
            )
        )
    command = editor_command(environ)
    handle, name = tempfile.mkstemp(prefix="deskterm-", suffix=suffix)
    path = Path(name)
    try:
        # mkstemp makes the file 0600 already; said again so that no umask can widen it.
        os.fchmod(handle, 0o600)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        try:
            done = subprocess.run([*command, str(path)], check=False)  # nosec B603
        except OSError as exc:
            raise EditorFailed(
                _("the editor {command} could not start: {reason}").format(
                    command=shlex.join(command), reason=exc.strerror or exc
                )
            ) from None
        if done.returncode != 0:
            raise EditorFailed(
                _("the editor {command} ended with status {status}: nothing changed").format(
                    command=shlex.join(command), status=done.returncode
                )
            )
        try:
            with path.open("rb") as back:
                data = back.read(READ_MAX + 1)
        except OSError as exc:
            raise EditorFailed(
                _("the editor left no text to read back ({reason})").format(
                    reason=exc.strerror or exc
                )
            ) from None
        if len(data) > READ_MAX:
            raise EditorFailed(_("the edited text is too long to read back"))
        edited = data.decode("utf-8", errors="replace")
        return Edited(text=edited, changed=edited != text)
    finally:
        path.unlink(missing_ok=True)
