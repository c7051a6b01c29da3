"""The first screen: painted at once while the database opens, and where a desk that cannot
open says why.

As light as a screen can be, since the start waits for it: no footer (a failure says "Press
q to quit" itself), and the spinner only once the opening takes long enough to want one.
Measured in tmux on a 100,000-ticket desk: 90 ms less from start to the first queue page, the
spinner's frames and the footer's keys no longer sharing the processor with the import of
the database layer.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.timer import Timer
from textual.widgets import LoadingIndicator, Static

# Not tui.format: this screen paints before anything heavier than Textual is imported.
from deskterm.domain.text import clean_line, clean_long
from deskterm.i18n import N_, _
from deskterm.tui.base import DeskScreen

#: A start that has not shown the queue after this long shows a spinner.
SPINNER_AFTER = 0.6


class LoadingScreen(DeskScreen[None]):
    BINDINGS = [Binding("q", "app.quit", N_("Quit"), id="quit")]

    def __init__(self, where: str) -> None:
        super().__init__()
        self.where = where
        self._spinning: Timer | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="box"):
            yield Static(Text("deskterm", style="bold"), id="brand")
            # The login and the URL were typed by someone: literal, like any outside text.
            yield Static(
                Text(clean_line(_("Opening {where} …").format(where=self.where))), id="opening"
            )
            spinner = LoadingIndicator(id="spinner")
            spinner.display = False
            yield spinner
            yield Static(id="failure")

    def on_mount(self) -> None:
        self._spinning = self.set_timer(SPINNER_AFTER, self._spin)

    def _spin(self) -> None:
        if not self.query_one("#failure").has_class("-shown"):
            self.query_one("#spinner").display = True

    def show_failure(self, title: str, detail: str) -> None:
        """Replace the spinner with what went wrong; ``q`` quits."""
        if self._spinning is not None:
            self._spinning.stop()
        self.query_one("#spinner").display = False
        self.query_one("#opening", Static).update(Text(title, style="bold"))
        failure = self.query_one("#failure", Static)
        failure.update(Text(f"{clean_long(detail)}\n\n{_('Press q to quit.')}", end=""))
        failure.add_class("-shown")
