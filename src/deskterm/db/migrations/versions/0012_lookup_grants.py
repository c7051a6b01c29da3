"""lookup grants: database logins may add to the caller lookup's vocabulary

Revision ID: 0012_lookup_grants
Revises: 0011_caller_lookup
Create Date: 2026-12-05

Adding a contact writes its name's new words into ``name_word`` (0011) by a trigger that
runs with the rights of whoever adds the contact. The logins ``analyst add --create-role``
made were granted only the tables of the models, and ``name_word`` is not one of them (the
models leave it out so that ``export`` does not carry what the trigger rebuilds): on a desk
where analysts sign in as themselves (``identity = "database"``), adding a contact with a new
word in its name was refused. Logins made from now on are granted the table
(``desk/identity.py``); this grants it to every existing login that may add contact words.

PostgreSQL only (SQLite has no logins). The downgrade leaves the grants: taking them back
would break the logins again, and 0011's downgrade drops the table with them.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0012_lookup_grants"
down_revision: str | None = "0011_caller_lookup"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_GRANT_TO_CONTACT_WRITERS = """
DO $$
DECLARE
    writer text;
BEGIN
    FOR writer IN
        SELECT DISTINCT grantee FROM information_schema.role_table_grants
        WHERE table_schema = current_schema() AND table_name = 'contact_word'
          AND privilege_type = 'INSERT' AND grantee <> current_user
    LOOP
        EXECUTE format('GRANT SELECT, INSERT ON TABLE name_word TO %I', writer);
    END LOOP;
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_GRANT_TO_CONTACT_WRITERS)


def downgrade() -> None:
    pass
