"""Events of the ticket log, said in words."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, overload

from deskterm.domain import payloads as p


def _label(value: Any) -> str:
    if value is None or value == "":
        return "nobody"
    return str(value).replace("_", " ")


def _why(reason: str | None) -> str:
    return f" ({reason})" if reason else ""


@overload
def describe(event: p.Payload, /) -> str: ...
@overload
def describe(event: str, data: Mapping[str, Any], /) -> str: ...
def describe(event: p.Payload | str, data: Mapping[str, Any] | None = None, /) -> str:
    """A short sentence (without the actor) for a timeline or a conflict message: of a
    payload, or of a stored event's kind and data."""
    payload = event if isinstance(event, p.Payload) else p.parse(event, data)
    match payload:
        case p.Created(channel=channel):
            return f"opened the ticket by {channel or 'phone'}"
        case p.CallLogged(direction=direction, duration_seconds=seconds, outcome=outcome):
            said = "took a call from" if direction == "inbound" else "called"
            seconds = seconds or 0
            length = f" ({seconds // 60}m{seconds % 60:02d}s)" if seconds else ""
            return f"{said} the customer{length}{f': {outcome}' if outcome else ''}"
        case p.Note(text=text):
            text = " ".join((text or "").split())
            return f"noted: {text[:77]}…" if len(text) > 78 else f"noted: {text}"
        case p.FieldChanged():
            old, new = _label(payload.from_), _label(payload.to)
            return f"changed {_label(payload.field)} from {old} to {new}{_why(payload.reason)}"
        case p.Assigned(to=to, reason=reason):
            return f"assigned it to {_label(to)}{_why(reason)}"
        case p.Reassigned(to=to, reason=reason):
            return f"handed it from {_label(payload.from_)} to {_label(to)}{_why(reason)}"
        case p.Unassigned(reason=reason):
            return f"took it from {_label(payload.from_)} back to the queue{_why(reason)}"
        case p.Escalated():
            return (
                f"escalated it from {_label(payload.from_group)} (L{payload.from_level}) "
                f"to {_label(payload.to_group)} (L{payload.to_level}){_why(payload.reason)}"
            )
        case p.StatusChanged(to=to, reason=reason):
            return f"set status {_label(payload.from_)} → {_label(to)}{_why(reason)}"
        case p.CallbackScheduled(due_at=due_at, reason=reason):
            return f"scheduled a callback for {due_at}{_why(reason)}"
        case p.Linked(link=link, other=other):
            return f"linked it as {_label(link)} {other}"
        case p.Split(other=other):
            return f"split it from the same call as {other}"
        case p.Resolved(code=code):
            return f"resolved it: {code}"
        case p.Reopened(reason=reason):
            return f"reopened it{_why(reason)}"
        case p.Closed():
            return "closed it"
        case p.NotificationQueued(channel=channel):
            return f"queued a {channel or ''} message to the customer".replace("  ", " ")
        case p.NotificationSent(channel=channel, notice=notice):
            whom = "a supervisor" if notice == "supervisor_alert" else "the customer"
            return f"told {whom} by {channel}" if channel else f"told {whom}"
        case p.CustomerMessage(channel=channel, text=text, attachments=files):
            text = " ".join((text or "").split())
            said = f": {text[:67]}…" if len(text) > 68 else f": {text}" if text else ""
            names = ", ".join(str(f.name or "?") for f in files or [])
            attached = f" [attached: {names}]" if files else ""
            return f"the customer wrote by {channel or 'email'}{said}{attached}"
        case p.NotificationFailed(notice=notice, reason=reason):
            whom = "a supervisor" if notice == "supervisor_alert" else "the customer"
            return f"could not tell {whom}{_why(reason)}"
        case p.SlaWarning(clock=clock):
            return f"warned: {_label(clock)} SLA nearly used up"
        case p.SlaBreached(clock=clock):
            return f"recorded a {_label(clock)} SLA breach"
        case p.EscalationRuleFired(rule=rule, outcome=outcome, told=told):
            done = [outcome] if outcome else []
            if told:
                done.append("told " + ", ".join(told))
            said = f": {'; '.join(done)}" if done else ""
            named = f"escalation rule {rule!r}" if rule else "an escalation rule"
            return f"applied {named}{_why(payload.reason)}{said}"
        case p.KbLinked(article=article, title=title):
            return f"solved it with {article or 'an article'}{f' ({title})' if title else ''}"
        case p.KbNeeded(topic=topic):
            return f"flagged that an article is needed{f': {topic}' if topic else ''}"
        case p.SurveyRecorded(csat=csat, nps=nps):
            scores = [f"{n} {v}" for n, v in (("CSAT", csat), ("NPS", nps)) if v is not None]
            return f"recorded the customer's survey{': ' + ', '.join(scores) if scores else ''}"
    return _label(payload.event_kind)
