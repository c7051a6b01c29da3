"""The words of a name, as a caller says them, and how alike two words are.

A caller says "Schmitt here", not "Klaus Schmitt"; spells "Müller" as "Muller" or "Mueller";
a hyphen or an apostrophe is often left out. So a contact is found by any word of the name:
words are folded (lower case, accents off, ``ß`` as ``ss``) and cut at anything that is not a
letter or a digit; a word joined by a hyphen or an apostrophe is also kept whole
(``jean-luc`` gives ``jean``, ``luc`` and ``jeanluc``).

Likeness is pg_trgm's: the share of three-letter pieces two words have in common, each word
padded with two spaces before and one after (so first letters weigh more). Pure: the desk and
migration 0011 use it, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import re
import unicodedata

#: Longest word kept: a name's word is rarely half this; longer runs are noise.
WORD_MAX = 60
#: Words kept per name: the first ones, where a caller's name is.
WORDS_MAX = 16
#: How alike two words must be to count as a misspelling of each other (pg_trgm's default).
ALIKE = 0.3

_PIECES = re.compile(r"[^\W_]+")


def fold(text: str) -> str:
    """Lower case without accents: ``Müller`` -> ``muller``, ``Straße`` -> ``strasse``."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def name_words(text: str | None) -> list[str]:
    """The distinct words a name is found by, in the order they appear."""
    words: list[str] = []
    for token in fold(text or "").split():
        pieces = _PIECES.findall(token)
        found = [*pieces, "".join(pieces)] if len(pieces) > 1 else pieces
        for word in found:
            word = word[:WORD_MAX]
            if word and word not in words:
                words.append(word)
    return words[:WORDS_MAX]


def query_words(text: str) -> list[str]:
    """The words of what the analyst typed, in order, each piece of ``jean-luc`` apart."""
    words: list[str] = []
    for word in _PIECES.findall(fold(text)):
        word = word[:WORD_MAX]
        if word not in words:
            words.append(word)
    return words[:WORDS_MAX]


def grams(word: str) -> set[str]:
    """pg_trgm's trigrams of one word: padded with two spaces before and one after."""
    padded = f"  {word} "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


def inner_grams(word: str) -> list[str]:
    """The unpadded trigrams: what a trigram index can look a word's neighbours up by."""
    return sorted({word[i : i + 3] for i in range(len(word) - 2)})


def likeness(a: str, b: str) -> float:
    """pg_trgm's ``similarity``: shared trigrams over all trigrams of the two words."""
    left, right = grams(a), grams(b)
    union = left | right
    return len(left & right) / len(union) if union else 0.0
