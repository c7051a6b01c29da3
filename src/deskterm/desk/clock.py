"""The desk's clock: real UTC time, or a fixed one for tests and snapshots."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

_source: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


def now() -> datetime:
    return _source()


@contextmanager
def use_clock(source: Callable[[], datetime]) -> Iterator[None]:
    """Run with another clock (a frozen or a stepping one), then restore the real one."""
    global _source
    previous, _source = _source, source
    try:
        yield
    finally:
        _source = previous
