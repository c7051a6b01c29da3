"""languages: each analyst's own language for the app and the CLI (issue 19)

Revision ID: 0015_languages
Revises: 0014_cti
Create Date: 2026-12-05

``analyst.language`` holds a tag deskterm ships (``en``, ``de``, ``pt``, ``pt-BR``, ``cs``);
empty means the language the analyst's locale names, else English.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_languages"
down_revision: str | None = "0014_cti"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("analyst") as batch:
        batch.add_column(sa.Column("language", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("analyst") as batch:
        batch.drop_column("language")
