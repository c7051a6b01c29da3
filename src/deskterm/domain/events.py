"""Events of the ticket log, said in words.

The words are read at read time, in the analyst's language: the log keeps data (kinds,
values, people's text), never a sentence. Each sentence is said of the actor, whom the story
names on its own line above it (and a conflict message before it): "assigned it to bob".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, overload

from deskterm.domain import payloads as p
from deskterm.domain.enums import channel_label, level_label, link_label, status_label
from deskterm.i18n import _, pgettext


def _label(value: Any) -> str:
    if value is None or value == "":
        # Translators: who holds a ticket when no one does ("assigned it to nobody").
        return pgettext("holder", "nobody")
    return str(value).replace("_", " ")


def _status(value: Any) -> str:
    if value is None or value == "":
        return _label(value)
    return status_label(str(value))


def _field(name: Any) -> str:
    """A ticket's field as an analyst reads it."""
    names = {
        "impact": pgettext("ticket field", "impact"),
        "urgency": pgettext("ticket field", "urgency"),
        "priority": pgettext("ticket field", "priority"),
    }
    return names.get(str(name), _label(name))


def _value(field: Any, value: Any) -> str:
    """A field's value as an analyst reads it: impact and urgency in words, others as kept."""
    if field in ("impact", "urgency") and value:
        return level_label(str(value))
    return _label(value)


def _clock(value: Any) -> str:
    """An SLA clock's name as an analyst reads it."""
    names = {
        "first_response": pgettext("sla clock name", "first response"),
        "response": pgettext("sla clock name", "response"),
        "resolution": pgettext("sla clock name", "resolution"),
    }
    return names.get(str(value), _label(value))


def _why(said: str, reason: str | None) -> str:
    """A sentence with the reason given for it, if any."""
    if not reason:
        return said
    # Translators: an event of a ticket's log, then the reason given for it in brackets.
    return _("{said} ({reason})").format(said=said, reason=reason)


def _moved_why(reason: str | None) -> str | None:
    """Why a ticket changed hands: ``away`` is the desk's own code (the holder was away and
    the ticket went to their backup), said in words; any other reason is a person's."""
    if reason == "away":
        # Translators: why a ticket went to someone else: its holder was away.
        return pgettext("reason a ticket moved", "away")
    return reason


def _then(said: str, detail: str | None) -> str:
    """A sentence followed by what it said or did: "resolved it: fixed"."""
    if not detail:
        return said
    # Translators: an event of a ticket's log, then its detail after a colon.
    return _("{said}: {detail}").format(said=said, detail=detail)


@overload
def describe(event: p.Payload, /) -> str: ...
@overload
def describe(event: str, data: Mapping[str, Any], /) -> str: ...
def describe(event: p.Payload | str, data: Mapping[str, Any] | None = None, /) -> str:
    """A short sentence (without the actor) for a timeline or a conflict message: of a
    payload, or of a stored event's kind and data. In the analyst's language."""
    payload = event if isinstance(event, p.Payload) else p.parse(event, data)
    match payload:
        case p.Created(channel=channel):
            return _("opened the ticket by {channel}").format(
                channel=channel_label(channel or "phone")
            )
        case p.CallLogged(direction=direction, duration_seconds=seconds, outcome=outcome):
            seconds = seconds or 0
            length = f"{seconds // 60}m{seconds % 60:02d}s"
            if direction == "inbound":
                if seconds:
                    said = _("took a call from the customer ({length})").format(length=length)
                else:
                    said = _("took a call from the customer")
            elif seconds:
                said = _("called the customer ({length})").format(length=length)
            else:
                said = _("called the customer")
            return _then(said, outcome)
        case p.Note(text=text):
            text = " ".join((text or "").split())
            shown = f"{text[:77]}…" if len(text) > 78 else text
            return _("noted: {text}").format(text=shown)
        case p.FieldChanged():
            said = _("changed {field} from {old} to {new}").format(
                field=_field(payload.field),
                old=_value(payload.field, payload.from_),
                new=_value(payload.field, payload.to),
            )
            return _why(said, payload.reason)
        case p.Assigned(to=to, reason=reason):
            said = _("assigned it to {holder}").format(holder=_label(to))
            return _why(said, _moved_why(reason))
        case p.Reassigned(to=to, reason=reason):
            said = _("handed it from {old} to {new}").format(
                old=_label(payload.from_), new=_label(to)
            )
            return _why(said, _moved_why(reason))
        case p.Unassigned(reason=reason):
            said = _("took it from {holder} back to the queue").format(holder=_label(payload.from_))
            return _why(said, _moved_why(reason))
        case p.Escalated():
            said = _(
                "escalated it from {old_group} (L{old_level}) to {new_group} (L{new_level})"
            ).format(
                old_group=_label(payload.from_group),
                old_level=payload.from_level,
                new_group=_label(payload.to_group),
                new_level=payload.to_level,
            )
            return _why(said, payload.reason)
        case p.StatusChanged(to=to, reason=reason):
            said = _("set status {old} → {new}").format(old=_status(payload.from_), new=_status(to))
            return _why(said, reason)
        case p.CallbackScheduled(due_at=due_at, reason=reason):
            said = _("scheduled a callback for {due}").format(due=_moment(due_at))
            return _why(said, reason)
        case p.Linked(link=link, other=other):
            return _("linked it as {link} {other}").format(
                link=link_label(link) if link else _label(link), other=other
            )
        case p.Split(other=other):
            return _("split it from the same call as {other}").format(other=other)
        case p.Resolved(code=code):
            return _("resolved it: {code}").format(code=code)
        case p.Reopened(reason=reason):
            return _why(_("reopened it"), reason)
        case p.Closed():
            return _("closed it")
        case p.NotificationQueued(channel=channel):
            if channel:
                return _("queued a {channel} message to the customer").format(
                    channel=channel_label(channel)
                )
            return _("queued a message to the customer")
        case p.NotificationSent(channel=channel, notice=notice):
            if notice == "supervisor_alert":
                if channel:
                    return _("told a supervisor by {channel}").format(
                        channel=channel_label(channel)
                    )
                return _("told a supervisor")
            if channel:
                return _("told the customer by {channel}").format(channel=channel_label(channel))
            return _("told the customer")
        case p.CustomerMessage(channel=channel, text=text, attachments=files):
            text = " ".join((text or "").split())
            shown = f"{text[:67]}…" if len(text) > 68 else text
            said = _("the customer wrote by {channel}").format(
                channel=channel_label(channel or "email")
            )
            said = _then(said, shown)
            if files:
                names = ", ".join(str(f.name or "?") for f in files)
                # Translators: a customer's message, then the names of the files it came with.
                said = _("{said} [attached: {files}]").format(said=said, files=names)
            return said
        case p.NotificationFailed(notice=notice, reason=reason):
            if notice == "supervisor_alert":
                return _why(_("could not tell a supervisor"), reason)
            return _why(_("could not tell the customer"), reason)
        case p.SlaWarning(clock=clock):
            return _("warned: {clock} SLA nearly used up").format(clock=_clock(clock))
        case p.SlaBreached(clock=clock):
            return _("recorded a {clock} SLA breach").format(clock=_clock(clock))
        case p.EscalationRuleFired(rule=rule, outcome=outcome, told=told):
            done = [outcome] if outcome else []
            if told:
                done.append(_("told {names}").format(names=", ".join(told)))
            if rule:
                said = _("applied escalation rule {rule}").format(rule=repr(rule))
            else:
                said = _("applied an escalation rule")
            return _then(_why(said, payload.reason), "; ".join(done))
        case p.KbLinked(article=article, title=title):
            if article and title:
                return _("solved it with {article} ({title})").format(article=article, title=title)
            if article:
                return _("solved it with {article}").format(article=article)
            if title:
                return _("solved it with an article ({title})").format(title=title)
            return _("solved it with an article")
        case p.KbNeeded(topic=topic):
            return _then(_("flagged that an article is needed"), topic)
        case p.SurveyRecorded(csat=csat, nps=nps):
            scores = [f"{n} {v}" for n, v in (("CSAT", csat), ("NPS", nps)) if v is not None]
            return _then(_("recorded the customer's survey"), ", ".join(scores))
    return _label(payload.event_kind)


def _moment(stamp: str | None) -> str:
    """A stored "YYYY-MM-DD HH:MM UTC" as the analyst reads times (their zone and words);
    as stored if it is not one."""
    from datetime import UTC, datetime

    from deskterm.i18n import format_time

    try:
        at = datetime.strptime(stamp or "", "%Y-%m-%d %H:%M UTC").replace(tzinfo=UTC)
    except ValueError:
        return stamp or "?"
    return format_time(at)
