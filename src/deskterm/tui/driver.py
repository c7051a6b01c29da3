"""Textual's terminal driver, with the escape key delivered when it is due.

A terminal sends the escape key as a lone ESC, which also starts every escape sequence (arrow
keys, function keys, mouse reports): Textual waits ``ESCDELAY`` ms (100 by default) for more
before it takes the ESC as the key. Its input thread looks at that wait only when its
``select`` times out, every 0.1 s, so escape reached the app 100-200 ms after it was pressed
(measured in tmux: 110 ms from the key to the queue painted again, 10 ms of it the app's).

This driver's input thread sleeps only until a pending ESC is due, and the wait is 30 ms
unless ``ESCDELAY`` says otherwise: a terminal writes a whole sequence at once (and SSH sends
it in one packet), so a shorter wait than Neovim's (``ttimeoutlen`` 50) splits none. Escape
then reached the queue in 40 ms (measured as above).
"""

from __future__ import annotations

import os
import selectors
from codecs import getincrementaldecoder

from textual import constants
from textual._loop import loop_last
from textual._time import get_time
from textual._xterm_parser import XTermParser
from textual.drivers.linux_driver import LinuxDriver

#: How long a lone ESC waits for the rest of a sequence, unless ``ESCDELAY`` (ms) is set.
ESCAPE_SECONDS = 0.03
#: The input thread's longest sleep: how soon it notices the app is exiting.
IDLE_SECONDS = 0.1


def escape_delay() -> None:
    """Textual reads ``constants.ESCAPE_DELAY`` each time it waits: set it once."""
    if "ESCDELAY" not in os.environ:
        setattr(constants, "ESCAPE_DELAY", ESCAPE_SECONDS)  # noqa: B010 (a Final of Textual's)


class PromptDriver(LinuxDriver):
    """``LinuxDriver``, its input loop waking when a pending ESC is due."""

    def run_input_thread(self) -> None:
        selector = selectors.SelectSelector()
        selector.register(self.fileno, selectors.EVENT_READ)
        fileno = self.fileno
        parser = XTermParser(self._debug)
        feed = parser.feed
        tick = parser.tick
        decode = getincrementaldecoder("utf-8")().decode
        read = os.read

        def process(events: list[tuple[selectors.SelectorKey, int]], final: bool = False) -> None:
            for last, (_key, mask) in loop_last(events):
                if mask & selectors.EVENT_READ:
                    data = decode(read(fileno, 1024 * 4), final=final and last)
                    if not data:
                        break
                    for event in feed(data):
                        self.process_message(event)
            for event in tick():
                self.process_message(event)

        def timeout() -> float:
            due = parser._timeout_time
            if due is None:
                return IDLE_SECONDS
            return min(IDLE_SECONDS, max(0.0, due - get_time()))

        try:
            while not self.exit_event.is_set():
                process(selector.select(timeout()))
            selector.unregister(self.fileno)
            process(selector.select(IDLE_SECONDS), final=True)
        finally:
            selector.close()
            try:
                for _event in feed(""):
                    pass
            except (EOFError, Exception):
                pass
