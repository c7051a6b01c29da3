"""The known desk (see ``tests/factories.py``) on each database."""

from __future__ import annotations

import pytest

from deskterm.db.engine import Database
from factories import KnownDesk, build_known_desk


@pytest.fixture
def known(db: Database) -> KnownDesk:
    return build_known_desk(db)
