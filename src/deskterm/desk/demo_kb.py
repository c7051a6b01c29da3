"""The demo desk's knowledge base: the articles of ``data/demo/kb.toml``, and which of the
demo's tickets each one solved.

The demo loader (``demo.py``) writes the articles with the team, before any ticket, and
links a share of the resolved tickets whose subject an article solves, as an analyst
does with ``kb.link_article`` just before resolving ("solved with KB-3").
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

from deskterm import defaults
from deskterm.domain.enums import ArticleStatus
from deskterm.domain.errors import InvalidInput
from deskterm.domain.text import long_text, required_line
from deskterm.paths import data_file

#: How many of the resolved tickets an article solves are linked to it: analysts link the
#: article they read to the caller, not every time.
LINK_SHARE = 0.4

_STATUSES = frozenset(s.value for s in ArticleStatus)


@dataclass(frozen=True)
class DemoArticle:
    title: str
    category: str
    tags: str
    author: str
    status: str
    language: str
    #: Lower-case parts of ticket subjects it solves.
    solves: tuple[str, ...]
    body: str


def key(article_id: int) -> str:
    """The article's key as ``kb.format_key`` writes it (not imported: the demo loader
    keeps clear of the use cases' imports)."""
    return f"KB-{article_id}"


def _tags(value: object, where: str) -> str:
    # As kb._tags stores them: lower-case words separated by spaces, each once.
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise InvalidInput(f"{where}: 'tags' must be a list of words")
    words = [w.lower() for t in value for w in re.split(r"[,\s]+", t) if w]
    return " ".join(dict.fromkeys(words))


def load_articles() -> list[DemoArticle]:
    """``data/demo/kb.toml`` (a copy in the config folder wins), refusing a broken file."""
    path = data_file("demo/kb.toml")
    raw = defaults.read_toml(path)
    specs = raw.get("article", [])
    if not isinstance(specs, list):
        raise InvalidInput(f"{path}: [[article]] must be a list of tables")
    articles: list[DemoArticle] = []
    for number, spec in enumerate(specs, start=1):
        where = f"{path} article {number}"
        if not isinstance(spec, dict):
            raise InvalidInput(f"{where}: not a table")
        try:
            title = required_line(spec.get("title", ""), field="title")
            body = long_text(spec.get("body", ""), field="body")
        except InvalidInput as exc:
            raise InvalidInput(f"{where}: {exc}") from None
        status = str(spec.get("status", ArticleStatus.PUBLISHED.value))
        if status not in _STATUSES:
            raise InvalidInput(f"{where}: unknown status {status!r}")
        solves = spec.get("solves", [])
        if not isinstance(solves, list) or not all(isinstance(s, str) and s for s in solves):
            raise InvalidInput(f"{where}: 'solves' must be a list of subject parts")
        articles.append(
            DemoArticle(
                title=title,
                category=str(spec.get("category", "")),
                tags=_tags(spec.get("tags", []), where),
                author=str(spec.get("author", "")).lower(),
                status=status,
                language=str(spec.get("language", "en")),
                solves=tuple(s.lower() for s in solves),
                body=body.strip() + "\n",
            )
        )
    return articles


class Solver:
    """Which article solves a ticket: the published ones whose ``solves`` part is in the
    subject, in the caller's language if one is written in it, else in English."""

    def __init__(self, articles: Sequence[tuple[int, DemoArticle]], seed: int) -> None:
        self._articles = [
            (article_id, a) for article_id, a in articles if a.status == ArticleStatus.PUBLISHED
        ]
        # Its own stream: linking draws nothing from the tickets' generator, so a seed gives
        # the same tickets whatever the knowledge base holds.
        self.random = random.Random(f"{seed}:kb-links").random
        # Subjects repeat (a few dozen templates, filled with sites and assets).
        self._found: dict[tuple[str, str], tuple[tuple[int, str], ...]] = {}

    def solving(self, subject: str, language: str) -> tuple[tuple[int, str], ...]:
        """(article id, title) of the articles for a subject, best language first."""
        found = self._found.get((subject, language))
        if found is None:
            lower = subject.lower()
            matching = [(i, a) for i, a in self._articles if any(s in lower for s in a.solves)]
            own = [m for m in matching if m[1].language == language]
            english = [m for m in matching if m[1].language == "en"]
            found = tuple((i, a.title) for i, a in (own or english))
            if len(self._found) < 100_000:
                self._found[(subject, language)] = found
        return found
