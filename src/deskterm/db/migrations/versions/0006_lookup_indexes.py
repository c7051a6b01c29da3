"""lookup indexes: caller lookup by name and email prefix on PostgreSQL

Revision ID: 0006_lookup_indexes
Revises: 0005_kb
Create Date: 2026-11-25

``find_contacts`` reads a prefix as a range in code point order (``desk/contacts.py``). On
SQLite the plain indexes serve that (BINARY collation); on PostgreSQL only an index in the
"C" collation does, whatever the database's own collation. Without these, a name prefix at
100,000 callers read every match and sorted it (measured by ``deskterm bench``).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006_lookup_indexes"
down_revision: str | None = "0005_kb"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute('CREATE INDEX ix_contact_name_lower_c ON contact (name_lower COLLATE "C", id)')
    op.execute('CREATE INDEX ix_contact_email_c ON contact (email COLLATE "C")')


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_contact_email_c")
    op.execute("DROP INDEX IF EXISTS ix_contact_name_lower_c")
