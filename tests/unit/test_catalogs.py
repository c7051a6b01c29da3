"""The message catalogs (issue 19): every string marked in the source is translated in every
shipped language, none fuzzy, each with the placeholders its English has, and msgfmt agrees.

This is the check CI runs: a new string without its translations fails here, naming it.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

import pytest

from deskterm import i18n

SOURCE = Path(i18n.__file__).resolve().parent
KEYWORDS = {
    "_": None,
    "N_": None,
    "ngettext": (1, 2),
    "pgettext": ((1, "c"), 2),
    "translate": (2,),
    "ntranslate": (2, 3),
}
SHIPPED = [lang for lang in i18n.LANGUAGES if lang != "en"]
PLACEHOLDER = re.compile(r"(?<!\{)\{([a-zA-Z_][a-zA-Z0-9_]*)(?:[!:][^{}]*)?\}(?!\})")


@cache
def marked() -> dict[tuple[str | None, str], str | None]:
    """(context, msgid) -> msgid_plural of every string marked in src/deskterm."""
    from babel.messages.extract import extract_from_dir

    found: dict[tuple[str | None, str], str | None] = {}
    for _file, _line, message, _comments, context in extract_from_dir(
        str(SOURCE),
        method_map=[("**.py", "python")],
        keywords=KEYWORDS,
        comment_tags=(),
    ):
        if isinstance(message, tuple):
            found[(context, message[0])] = message[1]
        else:
            found[(context, message)] = None
    return found


@cache
def catalog(lang: str):
    from babel.messages.pofile import read_po

    with i18n.po_file(lang).open("rb") as fp:
        return read_po(fp)


@pytest.mark.parametrize("lang", SHIPPED)
def test_every_marked_string_is_translated_and_none_is_fuzzy(lang: str) -> None:
    po = catalog(lang)
    missing, fuzzy = [], []
    for (context, msgid), plural in marked().items():
        entry = po.get(msgid, context=context)
        if entry is None or not all(entry.string if plural else [entry.string]):
            missing.append(msgid)
        elif entry.fuzzy:
            fuzzy.append(msgid)
    assert not missing, f"{lang}: {len(missing)} untranslated, e.g. {missing[:5]}"
    assert not fuzzy, f"{lang}: {len(fuzzy)} fuzzy, e.g. {fuzzy[:5]}"


@pytest.mark.parametrize("lang", SHIPPED)
def test_translations_keep_the_placeholders(lang: str) -> None:
    wrong = []
    for message in catalog(lang):
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = set().union(*(set(PLACEHOLDER.findall(i)) for i in ids))
        for text in strings:
            if text and not set(PLACEHOLDER.findall(text)) <= wanted:
                wrong.append((ids[0], text))
            # A singular's own count may be left out ("one ticket"), never another value.
            if text and len(ids) == 1 and set(PLACEHOLDER.findall(text)) != wanted:
                wrong.append((ids[0], text))
    assert not wrong, f"{lang}: placeholders differ: {wrong[:5]}"


@pytest.mark.parametrize("lang", SHIPPED)
def test_msgfmt_finds_nothing_untranslated_or_fuzzy(lang: str) -> None:
    if shutil.which("msgfmt") is None:
        pytest.skip("msgfmt (GNU gettext) is not installed here; .ci/run installs it")
    done = subprocess.run(  # noqa: S603 - a fixed program on our own file
        ["msgfmt", "--check", "--statistics", "-o", "/dev/null", str(i18n.po_file(lang))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "untranslated" not in done.stderr and "fuzzy" not in done.stderr, done.stderr


def test_a_module_that_translates_never_reuses_the_name_of_the_translator() -> None:
    """``for _ in ...`` or ``a, _ = ...`` in a module that imported ``_`` would make the
    next ``_("...")`` in that scope call a tuple or a number."""
    offenders = []
    for path in SOURCE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imports_it = any(
            isinstance(node, ast.ImportFrom)
            and node.module == "deskterm.i18n"
            and any(alias.name == "_" and alias.asname is None for alias in node.names)
            for node in ast.walk(tree)
        )
        if not imports_it:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id == "_" and isinstance(node.ctx, ast.Store):
                offenders.append(f"{path.relative_to(SOURCE)}:{node.lineno}")
            if isinstance(node, ast.arg) and node.arg == "_":
                offenders.append(f"{path.relative_to(SOURCE)}:{node.lineno}")
    assert not offenders, f"`_` rebound where it translates: {offenders}"


def test_the_catalogs_load_and_translate() -> None:
    for lang in SHIPPED:
        found = i18n.translation(lang)
        assert found.gettext("Queue") != "Queue", lang
    assert i18n.translation("pt-BR").gettext("Queue") == i18n.translation("pt").gettext("Queue")


def glossary(lang: str) -> list[tuple[str, str, list[str]]]:
    """(term, translation, words to avoid) from ``locale/<lang>/glossary.tsv``."""
    rows = []
    path = i18n.po_file(lang).parents[1] / "glossary.tsv"
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for line in lines:
        if line.startswith("#") or line.startswith("term\t"):
            continue
        term, translation, avoid, *_note = (line.split("\t") + ["", ""])[:4]
        rows.append((term, translation, [w.strip() for w in avoid.split(",") if w.strip()]))
    return rows


@pytest.mark.parametrize("lang", SHIPPED)
def test_translations_use_the_glossarys_words(lang: str) -> None:
    """One word per concept: a word the glossary says to avoid appears in no translation
    (placeholders and key names aside)."""
    rules = [
        (term, word, re.compile(rf"(?<![\w-]){re.escape(word)}(?![\w-])", re.IGNORECASE))
        for term, _translation, avoid in glossary(lang)
        for word in avoid
    ]
    assert rules, f"{lang}: the glossary names no word to avoid"
    found = []
    for message in catalog(lang):
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for text in strings:
            plain = re.sub(r"\{[^{}]*\}", " ", text or "")
            # Commands and options are typed as they are, in English, in any language.
            plain = re.sub(r"deskterm(?: [a-z][a-z-]*)+|--?[a-z][a-z-]*", " ", plain)
            # So are values and keys quoted for typing ("impact", `call`).
            plain = re.sub(r"\"[^\"]*\"|'[^']*'|`[^`]*`", " ", plain)
            for term, word, pattern in rules:
                if pattern.search(plain):
                    found.append(f"{word!r} for {term!r} in {text!r}")
    assert not found, f"{lang}: {len(found)} translations leave the glossary: {found[:5]}"
