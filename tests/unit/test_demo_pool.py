"""After the demo desk is built, the connections it used go back to the pool as any other:
in a transaction, so a unit of work that takes a savepoint still can (on PostgreSQL the
loader's VACUUM needs autocommit, which must not outlive it)."""

from __future__ import annotations

from sqlalchemy import text

from deskterm.db.engine import Database
from deskterm.desk.context import Desk
from deskterm.desk.demo import build_demo
from deskterm.desk.portal import link_for, open_case

ME = "kim.tester"


def test_a_savepoint_works_on_the_same_engine_right_after_the_demo(db: Database) -> None:
    build_demo(db, tickets=40, me=ME)
    with db.read() as session:
        ticket_id = session.scalar(text("SELECT min(id) FROM ticket WHERE contact_id IS NOT NULL"))
    assert ticket_id is not None
    # The desk's first customer link makes its secret inside a savepoint.
    made = Desk(db, ME).write(link_for, ref=ticket_id)
    sight = Desk(db, None).read(open_case, token=made.token)
    assert sight.view.ref == made.ref


def test_no_pooled_connection_is_left_in_autocommit(db: Database) -> None:
    build_demo(db, tickets=20, me=ME)
    if db.dialect != "postgresql":
        return
    # Every connection the pool holds, checked out at once, so none is missed.
    held = [db.engine.connect() for _n in range(db.engine.pool.checkedin() or 1)]
    try:
        assert all(not c.connection.driver_connection.autocommit for c in held)  # type: ignore[union-attr]
    finally:
        for c in held:
            c.close()
