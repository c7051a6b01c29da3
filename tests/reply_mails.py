"""Mail replies as real clients write them, for the tests that fold quotes and signatures.

Each case: the text as it arrives, words that are the sender's own (shown), and words that
are quoted history or signature (folded). Headers and layouts follow what Gmail, Outlook,
Thunderbird and Apple Mail write in English, German, Portuguese and Czech.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import EmailMessage


def as_mail(body: str, *, subject: str, sender: str = "Carol Jones <carol@acme.example>") -> bytes:
    """The text as a mail to the desk, as the importer reads it."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "help@desk.example"
    msg["Subject"] = subject
    msg.set_content(body)
    return msg.as_bytes()


@dataclass(frozen=True)
class Reply:
    name: str
    text: str
    shown: tuple[str, ...]
    folded: tuple[str, ...] = ()
    subject: str = "Re: [DT-000001] Printer offline"
    #: Lines at least this many are folded.
    at_least: int = 1
    extra: dict[str, str] = field(default_factory=dict)


DESK_MAIL = """\
Hello Carol,

we have restarted the print server. Could you try again and tell us whether
the printer on floor 3 works now?

Kind regards,
Ana Silva
Service Desk"""


def quoted(text: str, prefix: str = "> ") -> str:
    return "\n".join((prefix + line).rstrip() for line in text.splitlines())


GMAIL_EN = Reply(
    "gmail-en-top-posting",
    f"""\
It still does not print. The display says "PC LOAD LETTER".

Carol

On Tue, 3 Mar 2026 at 10:02, Service Desk <help@desk.example> wrote:

{quoted(DESK_MAIL)}
""",
    shown=("PC LOAD LETTER", "Carol"),
    folded=("restarted the print server", "wrote:"),
    at_least=7,
)

GMAIL_EN_WRAPPED = Reply(
    "gmail-en-header-over-two-lines",
    f"""\
Works now, thank you!

On Tue, 3 Mar 2026 at 10:02, Service Desk via the helpdesk of ACME <
help@desk.example> wrote:

{quoted(DESK_MAIL)}
""",
    shown=("Works now, thank you!",),
    folded=("restarted the print server", "help@desk.example> wrote:"),
)

OUTLOOK_EN = Reply(
    "outlook-en",
    f"""\
Hi Ana,

no luck, same error. I attached a photo of the display.

Best regards
Carol Jones
ACME Ltd. | Finance
Phone +44 20 7946 0000

________________________________
From: Service Desk <help@desk.example>
Sent: Tuesday, March 3, 2026 10:02 AM
To: Carol Jones <carol@acme.example>
Subject: RE: [DT-000001] Printer offline

{DESK_MAIL}
""",
    shown=("no luck, same error", "Carol Jones"),
    folded=("restarted the print server", "Sent: Tuesday"),
)

OUTLOOK_ORIGINAL_MESSAGE = Reply(
    "outlook-original-message",
    f"""\
Yes, please close it.

-----Original Message-----
From: Service Desk <help@desk.example>
Sent: Tuesday, March 3, 2026 10:02 AM
To: Carol Jones
Subject: [DT-000001] Printer offline

{DESK_MAIL}
""",
    shown=("Yes, please close it.",),
    folded=("Original Message", "restarted the print server"),
)

OUTLOOK_DE = Reply(
    "outlook-de",
    f"""\
Hallo Frau Silva,

leider druckt er immer noch nicht. Die Anzeige bleibt rot.

Mit freundlichen Grüßen
Jürgen Weiß

Von: Service Desk <help@desk.example>
Gesendet: Dienstag, 3. März 2026 10:02
An: Jürgen Weiß <juergen@firma.example>
Betreff: AW: [DT-000001] Drucker offline

{DESK_MAIL}
""",
    shown=("leider druckt er immer noch nicht", "Jürgen Weiß"),
    folded=("Gesendet: Dienstag", "restarted the print server"),
    subject="AW: [DT-000001] Drucker offline",
)

OUTLOOK_DE_ORIGINAL = Reply(
    "outlook-de-ursprungliche-nachricht",
    f"""\
Danke, jetzt geht es.

-----Ursprüngliche Nachricht-----
Von: Service Desk <help@desk.example>
Gesendet: Dienstag, 3. März 2026 10:02
An: Jürgen Weiß
Betreff: [DT-000001] Drucker offline

{DESK_MAIL}
""",
    shown=("Danke, jetzt geht es.",),
    folded=("Ursprüngliche Nachricht", "restarted the print server"),
)

THUNDERBIRD_DE = Reply(
    "thunderbird-de",
    f"""\
Guten Tag,

der Drucker zeigt jetzt "Papierstau", obwohl kein Papier drin ist.

Gruß
Jürgen

--\x20
Jürgen Weiß
Firma GmbH, Buchhaltung
Tel. +49 30 1234567

Am 03.03.26 um 10:02 schrieb Service Desk:
{quoted(DESK_MAIL)}
""",
    shown=("Papierstau", "Gruß"),
    folded=("Firma GmbH, Buchhaltung", "schrieb Service Desk", "restarted the print server"),
    at_least=11,
)

GMAIL_DE = Reply(
    "gmail-de",
    f"""\
Funktioniert wieder, vielen Dank!

Am Di., 3. März 2026 um 10:02 Uhr schrieb Service Desk <help@desk.example>:

{quoted(DESK_MAIL)}
""",
    shown=("Funktioniert wieder",),
    folded=("schrieb Service Desk", "restarted the print server"),
)

GMAIL_PT_BR = Reply(
    "gmail-pt-br",
    f"""\
Olá Ana,

a impressora continua offline. Já reiniciei o computador também.

Obrigada,
Mariana

Em ter., 3 de mar. de 2026 às 10:02, Service Desk <help@desk.example> escreveu:

{quoted(DESK_MAIL)}
""",
    shown=("a impressora continua offline", "Mariana"),
    folded=("escreveu:", "restarted the print server"),
)

GMAIL_PT_PT = Reply(
    "gmail-pt-pt",
    f"""\
Já está a funcionar. Obrigado!

Service Desk <help@desk.example> escreveu (terça, 3/03/2026 à(s) 10:02):

{quoted(DESK_MAIL)}
""",
    shown=("Já está a funcionar",),
    folded=("escreveu (terça", "restarted the print server"),
)

OUTLOOK_PT = Reply(
    "outlook-pt",
    f"""\
Bom dia,

o erro voltou hoje de manhã.

Atenciosamente,
João Pereira

Enviado do meu iPhone

De: Service Desk <help@desk.example>
Enviada: terça-feira, 3 de março de 2026 10:02
Para: João Pereira <joao@empresa.example>
Assunto: RE: [DT-000001] Impressora offline

{DESK_MAIL}
""",
    shown=("o erro voltou hoje de manhã", "João Pereira"),
    folded=("Enviado do meu iPhone", "Enviada: terça-feira", "restarted the print server"),
)

APPLE_PT = Reply(
    "apple-mail-pt",
    f"""\
Resolvido, pode fechar.

Enviado do meu iPhone

Em 3 de mar. de 2026, à(s) 10:02, Service Desk <help@desk.example> escreveu:

{quoted(DESK_MAIL)}
""",
    shown=("Resolvido, pode fechar.",),
    folded=("Enviado do meu iPhone", "escreveu:", "restarted the print server"),
)

THUNDERBIRD_CS = Reply(
    "thunderbird-cs",
    f"""\
Dobrý den,

tiskárna stále netiskne, na displeji svítí chyba E-52.

S pozdravem
Petr Novák

Dne 03. 03. 26 v 10:02 Service Desk napsal(a):
{quoted(DESK_MAIL)}
""",
    shown=("tiskárna stále netiskne", "Petr Novák"),
    folded=("napsal(a):", "restarted the print server"),
)

GMAIL_CS = Reply(
    "gmail-cs",
    f"""\
Děkuji, už to funguje.

út 3. 3. 2026 v 10:02 odesílatel Service Desk <help@desk.example> napsal:

{quoted(DESK_MAIL)}
""",
    shown=("Děkuji, už to funguje.",),
    folded=("odesílatel Service Desk", "restarted the print server"),
)

OUTLOOK_CS = Reply(
    "outlook-cs",
    f"""\
Dobrý den,

posílám fotku displeje.

Petr

Od: Service Desk <help@desk.example>
Odesláno: úterý 3. března 2026 10:02
Komu: Petr Novák <petr@firma.example>
Předmět: RE: [DT-000001] Tiskárna offline

{DESK_MAIL}
""",
    shown=("posílám fotku displeje", "Petr"),
    folded=("Odesláno: úterý", "restarted the print server"),
)

APPLE_EN = Reply(
    "apple-mail-en",
    f"""\
Still broken, sorry.

Sent from my iPhone

> On 3 Mar 2026, at 10:02, Service Desk <help@desk.example> wrote:
>
{quoted(DESK_MAIL)}
""",
    shown=("Still broken, sorry.",),
    folded=("Sent from my iPhone", "restarted the print server"),
)

INLINE_EN = Reply(
    "thunderbird-inline-answers",
    """\
On 03/03/2026 10:02, Service Desk wrote:
> Hello Carol,
>
> a few questions so we can find the fault:
>
> 1. Which printer is it (the label on its front)?

HP LaserJet 4000, label PRN-3-07.

> 2. Since when does it fail?

Since Monday morning, after the power cut.

> 3. Do your colleagues on floor 3 have the same problem?

Yes, all of them.

> Kind regards,
> Ana Silva
> Service Desk

--\x20
Carol Jones
ACME Ltd.
""",
    shown=(
        "HP LaserJet 4000, label PRN-3-07.",
        "Since Monday morning, after the power cut.",
        "Yes, all of them.",
        # The question each answer answers stays beside it.
        "Which printer is it",
        "Since when does it fail?",
        "Do your colleagues",
    ),
    folded=("Kind regards,", "ACME Ltd.", "a few questions so we can find the fault"),
)

NESTED_GMAIL = Reply(
    "gmail-whole-thread-nested",
    f"""\
Same again today.

On Wed, 4 Mar 2026 at 09:00, Service Desk <help@desk.example> wrote:

> Hello Carol, has it happened again?
>
> On Tue, 3 Mar 2026 at 16:40, Carol Jones <carol@acme.example> wrote:
>
>> It printed twice then stopped.
>>
>> On Tue, 3 Mar 2026 at 10:02, Service Desk <help@desk.example> wrote:
>>
{quoted(DESK_MAIL, ">> > ")}
""",
    shown=("Same again today.",),
    folded=("has it happened again", "printed twice then stopped", "restarted the print server"),
    at_least=13,
)

SIGNATURE_ONLY = Reply(
    "new-mail-with-signature",
    """\
Hello,

my laptop does not start since this morning. The power light blinks orange.

Thanks
Carol

--\x20
Carol Jones | ACME Ltd. | Finance
+44 20 7946 0000 | www.acme.example
This e-mail and any attachments are confidential.
""",
    shown=("power light blinks orange", "Carol"),
    folded=("www.acme.example", "confidential"),
    subject="Laptop does not start",
)

FORWARDED_GMAIL = Reply(
    "gmail-forwarded-on-purpose",
    """\
Please see the error our supplier sent us below.

Carol

---------- Forwarded message ---------
From: Supplier Support <support@supplier.example>
Date: Mon, 2 Mar 2026 at 17:15
Subject: Licence server
To: Carol Jones <carol@acme.example>

Your licence server certificate expired on 1 March. Renew it at the portal.

> On Mon, 2 Mar 2026 at 16:00, Carol Jones <carol@acme.example> wrote:
> Our licence server stopped answering.
""",
    shown=(
        "Please see the error our supplier sent us below.",
        "Forwarded message",
        "Your licence server certificate expired",
        "Our licence server stopped answering.",
    ),
    subject="Fwd: Licence server",
    at_least=0,
)

FORWARDED_OUTLOOK = Reply(
    "outlook-forwarded-on-purpose",
    """\
FYI, this is what the vendor says.

________________________________
From: Vendor Support <support@vendor.example>
Sent: Monday, March 2, 2026 5:15 PM
To: Carol Jones <carol@acme.example>
Subject: Licence server

Your licence server certificate expired on 1 March.
""",
    shown=("FYI, this is what the vendor says.", "certificate expired on 1 March"),
    subject="FW: Licence server",
    at_least=0,
)

FORWARDED_DE = Reply(
    "thunderbird-forwarded-de",
    """\
Zur Info, siehe unten.

-------- Weitergeleitete Nachricht --------
Betreff: Lizenzserver
Datum: Mon, 2 Mar 2026 17:15:00 +0100
Von: Hersteller <support@hersteller.example>
An: Jürgen Weiß <juergen@firma.example>

Ihr Zertifikat ist am 1. März abgelaufen.
""",
    shown=("Zur Info", "Zertifikat ist am 1. März abgelaufen"),
    subject="WG: Lizenzserver",
    at_least=0,
)

ALL_QUOTED = Reply(
    "nothing-but-a-quote",
    f"""\
On Tue, 3 Mar 2026 at 10:02, Service Desk <help@desk.example> wrote:

{quoted(DESK_MAIL)}
""",
    # Folding would leave nothing: the whole text stays.
    shown=("restarted the print server", "wrote:"),
    at_least=0,
)

NOT_A_HEADER = Reply(
    "words-that-look-like-a-header",
    """\
On Monday I wrote: the printer is broken. Nobody answered.

From: the 3rd floor
To: everyone who can help

Regards, but please hurry.
""",
    shown=("On Monday I wrote", "From: the 3rd floor", "please hurry"),
    subject="Printer",
    at_least=0,
)

CASES = (
    GMAIL_EN,
    GMAIL_EN_WRAPPED,
    OUTLOOK_EN,
    OUTLOOK_ORIGINAL_MESSAGE,
    OUTLOOK_DE,
    OUTLOOK_DE_ORIGINAL,
    THUNDERBIRD_DE,
    GMAIL_DE,
    GMAIL_PT_BR,
    GMAIL_PT_PT,
    OUTLOOK_PT,
    APPLE_PT,
    THUNDERBIRD_CS,
    GMAIL_CS,
    OUTLOOK_CS,
    APPLE_EN,
    INLINE_EN,
    NESTED_GMAIL,
    SIGNATURE_ONLY,
    FORWARDED_GMAIL,
    FORWARDED_OUTLOOK,
    FORWARDED_DE,
    ALL_QUOTED,
    NOT_A_HEADER,
)
