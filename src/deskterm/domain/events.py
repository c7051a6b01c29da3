"""Events of the ticket log, said in words."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from deskterm.domain.enums import EventKind


def _label(value: Any) -> str:
    if value is None or value == "":
        return "nobody"
    return str(value).replace("_", " ")


def describe(kind: str, data: Mapping[str, Any]) -> str:
    """A short sentence (without the actor) for a timeline or a conflict message."""
    reason = data.get("reason")
    why = f" ({reason})" if reason else ""
    match kind:
        case EventKind.CREATED:
            return f"opened the ticket by {data.get('channel', 'phone')}"
        case EventKind.CALL_LOGGED:
            direction = "took a call from" if data.get("direction") == "inbound" else "called"
            seconds = int(data.get("duration_seconds") or 0)
            length = f" ({seconds // 60}m{seconds % 60:02d}s)" if seconds else ""
            outcome = f": {data['outcome']}" if data.get("outcome") else ""
            return f"{direction} the customer{length}{outcome}"
        case EventKind.NOTE:
            text = " ".join(str(data.get("text", "")).split())
            return f"noted: {text[:77]}…" if len(text) > 78 else f"noted: {text}"
        case EventKind.FIELD_CHANGED:
            field, old, new = data.get("field"), data.get("from"), data.get("to")
            return f"changed {_label(field)} from {_label(old)} to {_label(new)}{why}"
        case EventKind.ASSIGNED:
            return f"assigned it to {_label(data.get('to'))}{why}"
        case EventKind.REASSIGNED:
            return f"handed it from {_label(data.get('from'))} to {_label(data.get('to'))}{why}"
        case EventKind.UNASSIGNED:
            return f"took it from {_label(data.get('from'))} back to the queue{why}"
        case EventKind.ESCALATED:
            return (
                f"escalated it from {_label(data.get('from_group'))} (L{data.get('from_level')}) "
                f"to {_label(data.get('to_group'))} (L{data.get('to_level')}){why}"
            )
        case EventKind.STATUS_CHANGED:
            return f"set status {_label(data.get('from'))} → {_label(data.get('to'))}{why}"
        case EventKind.CALLBACK_SCHEDULED:
            return f"scheduled a callback for {data.get('due_at')}{why}"
        case EventKind.LINKED:
            return f"linked it as {_label(data.get('link'))} {data.get('other')}"
        case EventKind.SPLIT:
            return f"split it from the same call as {data.get('other')}"
        case EventKind.RESOLVED:
            return f"resolved it: {data.get('code')}"
        case EventKind.REOPENED:
            return f"reopened it{why}"
        case EventKind.CLOSED:
            return "closed it"
        case EventKind.NOTIFICATION_QUEUED:
            return f"queued a {data.get('channel', '')} message to the customer".replace("  ", " ")
        case EventKind.NOTIFICATION_SENT:
            channel = data.get("channel")
            whom = "a supervisor" if data.get("notice") == "supervisor_alert" else "the customer"
            return f"told {whom} by {channel}" if channel else f"told {whom}"
        case EventKind.CUSTOMER_MESSAGE:
            text = " ".join(str(data.get("text", "")).split())
            said = f": {text[:67]}…" if len(text) > 68 else f": {text}" if text else ""
            files = data.get("attachments") or []
            names = ", ".join(str(f.get("name", "?")) for f in files)
            attached = f" [attached: {names}]" if files else ""
            return f"the customer wrote by {data.get('channel', 'email')}{said}{attached}"
        case EventKind.NOTIFICATION_FAILED:
            whom = "a supervisor" if data.get("notice") == "supervisor_alert" else "the customer"
            return f"could not tell {whom}{why}"
        case EventKind.SLA_WARNING:
            return f"warned: {_label(data.get('clock'))} SLA nearly used up"
        case EventKind.SLA_BREACHED:
            return f"recorded a {_label(data.get('clock'))} SLA breach"
        case EventKind.ESCALATION_RULE:
            done = [str(data["outcome"])] if data.get("outcome") else []
            if data.get("told"):
                done.append("told " + ", ".join(str(t) for t in data["told"]))
            said = f": {'; '.join(done)}" if done else ""
            rule = f"escalation rule {data['rule']!r}" if data.get("rule") else "an escalation rule"
            return f"applied {rule}{why}{said}"
        case EventKind.KB_LINKED:
            title = f" ({data['title']})" if data.get("title") else ""
            return f"solved it with {data.get('article', 'an article')}{title}"
        case EventKind.KB_NEEDED:
            topic = f": {data['topic']}" if data.get("topic") else ""
            return f"flagged that an article is needed{topic}"
        case EventKind.SURVEY_RECORDED:
            said = [f"{k.upper()} {data[k]}" for k in ("csat", "nps") if data.get(k) is not None]
            return f"recorded the customer's survey{': ' + ', '.join(said) if said else ''}"
    return _label(kind)
