"""Mail on the ticket screen: quotes and signatures folded to one line, ``z`` unfolds them."""

from __future__ import annotations

from helpers import settle, until
from test_tui_ticket import open_ticket
from textual.containers import VerticalScroll

from deskterm.desk.mail import import_message
from deskterm.domain.refs import format_ref, parse_ref
from factories import AGENT
from reply_mails import INLINE_EN, SIGNATURE_ONLY, as_mail


def mail_ticket(seeded) -> int:
    """A ticket opened by a signed mail, with an inline reply to it."""
    sender = "Carol Jones <carol@acme.example>"
    first = import_message(
        seeded.known.db,
        as_mail(SIGNATURE_ONLY.text, subject=SIGNATURE_ONLY.subject, sender=sender),
        source="first.eml",
    )
    assert first.ref is not None
    ref = parse_ref(first.ref)
    reply = import_message(
        seeded.known.db,
        as_mail(INLINE_EN.text, subject=f"Re: [{format_ref(ref)}] Laptop", sender=sender),
        source="reply.eml",
    )
    assert reply.outcome == "reply"
    return ref


def story(screen) -> str:
    timeline = screen.query_one("#timeline", VerticalScroll)
    return "\n".join(str(entry.render()) for entry in timeline.children)


async def test_z_unfolds_and_folds_the_mail_again(make_app, seeded) -> None:
    ref = mail_ticket(seeded)
    app = make_app(AGENT)
    async with app.run_test(size=(100, 40)) as pilot:
        screen = await open_ticket(pilot, ref)
        await settle(pilot)
        folded = story(screen)
        assert "Since Monday morning, after the power cut." in folded
        assert "power light blinks orange" in folded
        assert "… 9 quoted lines folded (z shows them)" in folded
        assert "… 4 quoted lines folded (z shows them)" in folded
        assert "a few questions so we can find the fault" not in folded
        assert "www.acme.example" not in folded

        await pilot.press("z")
        await until(pilot, lambda: "a few questions" in story(screen), "mail unfolded")
        whole = story(screen)
        assert "www.acme.example" in whole and "folded" not in whole
        assert "Since Monday morning, after the power cut." in whole

        await pilot.press("z")
        await until(pilot, lambda: "a few questions" not in story(screen), "mail folded")
        assert "… 9 quoted lines folded (z shows them)" in story(screen)
