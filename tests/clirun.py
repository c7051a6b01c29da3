"""Run the ``deskterm`` command in-process, as a shell would, and read what it said."""

from __future__ import annotations

import io
import sys

import pytest

from deskterm.cli import main


class _Stdin:
    """Standard input as the CLI reads it (``sys.stdin.buffer``)."""

    def __init__(self, data: bytes) -> None:
        self.buffer = io.BytesIO(data)


def run_deskterm(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    *args: str,
    stdin: str | None = None,
) -> tuple[int, str, str]:
    """``deskterm ARGS``: its exit code (0 for a plain return), stdout and stderr."""
    capsys.readouterr()
    monkeypatch.setattr(sys, "argv", ["deskterm", *args])
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", _Stdin(stdin.encode()))
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    captured = capsys.readouterr()
    return code, captured.out, captured.err
