"""The first screen: painted at once while the database opens, and where a desk that cannot
open says why."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, LoadingIndicator, Static

# Not tui.format: this screen paints before anything heavier than Textual is imported.
from deskterm.domain.text import clean_line, clean_long


class LoadingScreen(Screen[None]):
    BINDINGS = [Binding("q", "app.quit", "Quit", id="quit")]

    def __init__(self, where: str) -> None:
        super().__init__()
        self.where = where

    def compose(self) -> ComposeResult:
        with Vertical(id="box"):
            yield Static(Text("deskterm", style="bold"), id="brand")
            # The login and the URL were typed by someone: literal, like any outside text.
            yield Static(Text(clean_line(f"Opening {self.where} …")), id="opening")
            yield LoadingIndicator(id="spinner")
            yield Static(id="failure")
        yield Footer()

    def show_failure(self, title: str, detail: str) -> None:
        """Replace the spinner with what went wrong; ``q`` quits."""
        self.query_one("#spinner").display = False
        self.query_one("#opening", Static).update(Text(title, style="bold"))
        failure = self.query_one("#failure", Static)
        failure.update(Text(f"{clean_long(detail)}\n\nPress q to quit.", end=""))
        failure.add_class("-shown")
