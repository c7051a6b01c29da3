"""A mail's new words apart from what it repeats: quoted history and signature folded away.

Pure: text in, a ``Folded`` out. The ticket's log shows the new part and keeps the whole
text beside it, so nothing is lost by a wrong guess, only hidden one key away.

Written here as line rules rather than taken from ``mail-parser-reply`` (MIT, 12 kB, the
best-kept candidate): measured on the mails in ``tests/reply_mails.py`` it knows no
Portuguese and not Gmail's Czech header, keeps everything of an inline reply, cuts off what a
customer forwards on purpose, takes "From: the 3rd floor / To: everyone" for a header, treats
any line from "Thanks," on as signature (the customer's words after it folded), and strips
every line's indentation (log output pasted into a mail). The rules below err the other way:
what is not surely a quote, a reply header or a signature stays visible.

What is folded:

- a reply header and what follows it: "On … wrote:" as Gmail, Apple Mail and Thunderbird
  write it in English, German, Portuguese and Czech (also over two or three lines), Outlook's
  "-----Original Message-----" and "From:/Sent:/To:" blocks (``Von:/Gesendet:``,
  ``De:/Enviada:``, ``Od:/Odesláno:``);
- quoted lines (``>``); in an inline reply the customer's answers between the quotes stay,
  each with the quoted lines it answers (the last quoted paragraph, up to three lines);
- a signature after "-- " (a short one: a long text after the mark is not a signature), and
  "Sent from my iPhone" and its kin when they end the sender's words.

What is never folded: content forwarded on purpose ("---------- Forwarded message ---------",
"Begin forwarded message:", an Outlook block under a "Fwd:"/"FW:"/"WG:" subject) and
everything after it; nor everything: a split that leaves nothing keeps the whole text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: At most this many lines of a quoted paragraph stay beside the answer given to it.
CONTEXT = 3
#: A "-- " followed by more than this many lines is a separator in the text, not a signature.
SIGNATURE_MAX = 15
#: A reply header is at most this many lines ("… <" / "ana@x> wrote:" as Gmail wraps it).
HEADER_LINES = 3

_QUOTE = re.compile(r"^\s*>")
_SIGNATURE = re.compile(r"^--\s?$")
_FORWARD = re.compile(
    r"(?i)^\s*(?:"
    r"-{2,}\s*(?:forwarded message|original message follows|weitergeleitete nachricht"
    r"|mensagem (?:re)?encaminhada|p[řr]eposlan[áa] zpr[áa]va)\s*-{2,}"
    r"|begin forwarded message:|anfang der weitergeleiteten nachricht:"
    r"|in[íi]cio da mensagem (?:re)?encaminhada:|za[čc][áa]tek p[řr]eposlan[ée] zpr[áa]vy:"
    r")\s*$"
)
_FORWARD_SUBJECT = re.compile(r"(?i)^\s*(?:fwd?|wg|enc|rv|tr|pd|fw)\s*:")
_ORIGINAL = re.compile(
    r"(?i)^\s*-{2,}\s*(?:original message|urspr[üu]ngliche nachricht|original-nachricht"
    r"|mensagem original|p[ůu]vodn[íi] zpr[áa]va|message d'origine)\s*-{2,}\s*$"
)
_RULE = re.compile(r"^\s*_{10,}\s*$")
_FROM = re.compile(r"(?i)^\s*\*?(?:from|von|de|od)\s*:\*?\s*\S")
_HEAD = re.compile(
    r"(?i)^\s*\*?(?:sent|date|to|cc|subject|gesendet|datum|an|betreff|enviada|enviado|data"
    r"|para|assunto|odesl[áa]no|komu|kopie|p[řr]edm[ěe]t)\s*:"
)
_WORDS = r"(?:wrote|schrieb|escreveu|napsal(?:\(a\)|a)?|a [ée]crit|escribi[óo])"
# Starting as Gmail, Apple Mail and Thunderbird start it: "On", "Am", "Em", "Dne".
_WROTE_LEAD = re.compile(rf"(?i)^(?:on|am|em|dne|le|el)\b.{{0,300}}\b{_WORDS}\b.{{0,200}}:$")
# Any other shape ("… odesílatel X napsal:", "X escreveu (terça, …):"): only right above a quote.
_WROTE_ANY = re.compile(rf"(?i)^.{{0,300}}\b{_WORDS}\b.{{0,200}}:$")
_WHEN = re.compile(r"\d{1,2}[:.]\d{2}|@|\d{4}")
_MOBILE = re.compile(
    r"(?i)^\s*(?:sent from my\b|sent from (?:mail|outlook) for\b|get outlook for\b"
    r"|sent from yahoo mail\b|von meinem \S+(?: \S+)? gesendet\b|gesendet von meinem\b"
    r"|gesendet von mail f[üu]r\b|enviado do meu\b|enviado de meu\b|enviado a partir d[oe]\b"
    r"|obter o outlook para\b|odesl[áa]no z(?:e)?\b|odesl[áa]no z m[ée]ho\b).{0,60}$"
)


@dataclass(frozen=True)
class Folded:
    """The sender's new words, and how many lines of the whole text they leave out."""

    text: str
    #: Lines with words folded away; 0 when ``text`` is the whole text.
    lines: int = 0


def fold_reply(text: str, *, subject: str = "") -> Folded:
    """Split a mail's text into what the sender wrote now and what it repeats."""
    lines = text.splitlines()
    end = _forwarded_from(lines, forwarding=bool(_FORWARD_SUBJECT.match(subject)))
    keep = [True] * len(lines)
    start, size, kind = _reply_header(lines, end)
    if kind == "wrote" and not any(_QUOTE.match(line) for line in lines[start + size : end]):
        # A header over unquoted text: history as an HTML mail reads once made text.
        kind = "history"
    if kind == "history":
        _drop(keep, start, end)
        scan_end = start
    else:
        if kind == "wrote":
            _drop(keep, start, start + size)
        scan_end = end
    _fold_signature(lines, keep, 0, scan_end)
    _fold_quotes(lines, keep, 0, scan_end)
    _fold_mobile(lines, keep, 0, scan_end)
    folded = sum(1 for line, kept in zip(lines, keep, strict=True) if not kept and _said(line))
    if not folded:
        return Folded(text)
    shown = _tidy([line for line, kept in zip(lines, keep, strict=True) if kept])
    if not shown.strip():
        return Folded(text)
    return Folded(shown, folded)


def _said(line: str) -> bool:
    """Whether a line holds words (a bare ">" does not)."""
    return bool(line.strip().lstrip(">").strip())


def _drop(keep: list[bool], start: int, end: int) -> None:
    for number in range(start, end):
        keep[number] = False


def _tidy(lines: list[str]) -> str:
    """The kept lines, without the empty lines that folding left piled up or at the ends."""
    out: list[str] = []
    for line in lines:
        if not line.strip() and (not out or not out[-1].strip()):
            continue
        out.append(line)
    while out and not out[-1].strip():
        out.pop()
    return "\n".join(out)


def _forwarded_from(lines: list[str], *, forwarding: bool) -> int:
    """Where forwarded content starts (it stays visible from there), else the end."""
    for number, line in enumerate(lines):
        if _QUOTE.match(line):
            continue
        if _FORWARD.match(line):
            return number
        if forwarding and (_ORIGINAL.match(line) or _outlook_block(lines, number)):
            return number
        if forwarding and _RULE.match(line) and _outlook_block(lines, _next_said(lines, number)):
            return number
    return len(lines)


def _reply_header(lines: list[str], end: int) -> tuple[int, int, str]:
    """The first reply header before ``end``: (line, how many lines, "wrote" or "history");
    ``(end, 0, "")`` when there is none."""
    for number in range(end):
        line = lines[number]
        if _QUOTE.match(line) or not line.strip():
            continue
        if _ORIGINAL.match(line) or _outlook_block(lines, number):
            return number, 1, "history"
        if _RULE.match(line) and _outlook_block(lines, _next_said(lines, number)):
            return number, 1, "history"
        size = _wrote(lines, number, end)
        if size:
            return number, size, "wrote"
    return end, 0, ""


def _next_said(lines: list[str], number: int) -> int:
    for after in range(number + 1, min(len(lines), number + 3)):
        if lines[after].strip():
            return after
    return len(lines)


def _outlook_block(lines: list[str], number: int) -> bool:
    """A "From:" line with at least two more header lines (Sent, To, Subject…) below it."""
    if number >= len(lines) or not _FROM.match(lines[number]):
        return False
    below = lines[number + 1 : number + 7]
    return sum(1 for line in below if _HEAD.match(line)) >= 2


def _wrote(lines: list[str], number: int, end: int) -> int:
    """How many lines an "On … wrote:" header at ``number`` spans, or 0 for none."""
    for size in range(1, HEADER_LINES + 1):
        if number + size > end:
            break
        if not lines[number + size - 1].strip():
            break
        joined = " ".join(line.strip() for line in lines[number : number + size])
        if len(joined) > 400 or not joined.endswith(":"):
            continue
        # A header wrapped over lines starts with its date ("On 3 Mar…", "út 3. 3. 2026
        # v 10:02…"): "Carol" above "On … wrote:" is the sender's name, not its start.
        if size > 1 and not _WHEN.search(lines[number]) and not _WROTE_LEAD.match(joined):
            continue
        below = _next_said(lines, number + size - 1)
        quote_below = below < len(lines) and _QUOTE.match(lines[below])
        if _WROTE_LEAD.match(joined) and (quote_below or _WHEN.search(joined)):
            return size
        if _WROTE_ANY.match(joined) and quote_below:
            return size
    return 0


def _fold_quotes(lines: list[str], keep: list[bool], start: int, end: int) -> None:
    """Fold each run of quoted lines; a run the sender answers below keeps its last
    paragraph (up to ``CONTEXT`` lines) beside the answer."""
    number = start
    while number < end:
        if not keep[number] or not _QUOTE.match(lines[number]):
            number += 1
            continue
        run_start = number
        while number < end and (_QUOTE.match(lines[number]) or not lines[number].strip()):
            number += 1
        run_end = number
        answered = number < end and keep[number]
        context = _last_paragraph(lines, run_start, run_end) if answered else run_end
        _drop(keep, run_start, context)


def _last_paragraph(lines: list[str], start: int, end: int) -> int:
    """Where the last quoted paragraph of lines ``start..end`` begins, at most ``CONTEXT``
    lines with words before ``end``."""
    last = end
    while last > start and not _said(lines[last - 1]):
        last -= 1
    first = last
    while first > start and _said(lines[first - 1]) and last - first < CONTEXT:
        first -= 1
    return first


def _fold_signature(lines: list[str], keep: list[bool], start: int, end: int) -> None:
    """Fold a short signature after "-- ", up to the next quote or folded line."""
    for number in range(start, end):
        if not keep[number] or not _SIGNATURE.match(lines[number]):
            continue
        stop = number + 1
        while stop < end and keep[stop] and not _QUOTE.match(lines[stop]):
            stop += 1
        if sum(1 for line in lines[number + 1 : stop] if line.strip()) <= SIGNATURE_MAX:
            _drop(keep, number, stop)
        return


def _fold_mobile(lines: list[str], keep: list[bool], start: int, end: int) -> None:
    """Fold "Sent from my iPhone" and its kin where they end a stretch of the sender's words."""
    for number in range(start, end):
        if not keep[number] or not _MOBILE.match(lines[number]):
            continue
        after = number + 1
        while after < end and keep[after] and not lines[after].strip():
            after += 1
        if after >= end or not keep[after] or _QUOTE.match(lines[after]):
            keep[number] = False
