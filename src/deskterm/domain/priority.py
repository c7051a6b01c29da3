"""Priority from impact and urgency (an ITIL-style matrix), and what each priority means."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from deskterm.domain.enums import Impact, Urgency
from deskterm.domain.errors import InvalidInput
from deskterm.i18n import N_, _

PRIORITIES = (1, 2, 3, 4, 5)


@dataclass(frozen=True)
class PriorityLevel:
    number: int
    label: str
    meaning: str
    colour: str

    @property
    def code(self) -> str:
        return f"P{self.number}"

    @property
    def shown_label(self) -> str:
        """The label in the analyst's language: the shipped words are in the catalogs
        (``SHIPPED_WORDS``); an admin's own words show as they wrote them."""
        return _(self.label)

    @property
    def shown_meaning(self) -> str:
        return _(self.meaning)


#: The words of the shipped data/priority.toml, for the catalogs (see ``shown_label``).
SHIPPED_WORDS = (
    N_("Critical"),
    N_("business outage: a key service is down for many users"),
    N_("High"),
    N_("many users or a key service badly hurt"),
    N_("Medium"),
    N_("one user blocked, or many slowed"),
    N_("Low"),
    N_("an inconvenience with a workaround"),
    N_("Planning"),
    N_("planned work, a request or a question"),
)


@dataclass(frozen=True)
class PriorityMatrix:
    cells: Mapping[tuple[Impact, Urgency], int]
    levels: Mapping[int, PriorityLevel]

    def priority(self, impact: Impact | str, urgency: Urgency | str) -> int:
        return self.cells[(Impact(impact), Urgency(urgency))]

    def level(self, number: int) -> PriorityLevel:
        return self.levels[number]

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> PriorityMatrix:
        """Build and validate a matrix from its TOML form (see data/priority.toml)."""
        levels: dict[int, PriorityLevel] = {}
        priorities = raw.get("priorities") or {}
        if not isinstance(priorities, Mapping):
            raise InvalidInput(
                _("priority matrix: [priorities] must be a table, like [priorities.P1]")
            )
        for code, spec in priorities.items():
            number = parse_priority(code)
            if not isinstance(spec, Mapping) or not spec.get("label"):
                raise InvalidInput(_("priority {code} needs a label").format(code=code))
            levels[number] = PriorityLevel(
                number=number,
                label=str(spec["label"]),
                meaning=str(spec.get("meaning", "")),
                colour=str(spec.get("colour", "default")),
            )
        missing = [f"P{n}" for n in PRIORITIES if n not in levels]
        if missing:
            raise InvalidInput(
                _("priority matrix: no definition for {names}").format(names=", ".join(missing))
            )
        cells: dict[tuple[Impact, Urgency], int] = {}
        matrix = raw.get("matrix") or {}
        if not isinstance(matrix, Mapping):
            raise InvalidInput(_("priority matrix: [matrix] must be a table, like [matrix.high]"))
        for impact in Impact:
            row = matrix.get(impact.value)
            if not isinstance(row, Mapping):
                raise InvalidInput(
                    _("priority matrix: no row for impact {impact!r}").format(impact=impact.value)
                )
            for urgency in Urgency:
                if urgency.value not in row:
                    raise InvalidInput(
                        _("priority matrix: impact {impact!r} has no urgency {urgency!r}").format(
                            impact=impact.value, urgency=urgency.value
                        )
                    )
                cells[(impact, urgency)] = parse_priority(str(row[urgency.value]))
        return cls(cells=cells, levels=levels)


def parse_priority(text: str | int) -> int:
    """1..5 from ``P1``, ``p1`` or ``1``."""
    raw = str(text).strip().upper().removeprefix("P")
    if raw.isascii() and raw.isdigit() and int(raw) in PRIORITIES:
        return int(raw)
    raise InvalidInput(
        _("unknown priority {text!r}: use P1 to P5").format(text=text), field="priority"
    )


DEFAULT_MATRIX = PriorityMatrix(
    cells={
        (Impact.HIGH, Urgency.HIGH): 1,
        (Impact.HIGH, Urgency.MEDIUM): 2,
        (Impact.MEDIUM, Urgency.HIGH): 2,
        (Impact.HIGH, Urgency.LOW): 3,
        (Impact.MEDIUM, Urgency.MEDIUM): 3,
        (Impact.LOW, Urgency.HIGH): 3,
        (Impact.MEDIUM, Urgency.LOW): 4,
        (Impact.LOW, Urgency.MEDIUM): 4,
        (Impact.LOW, Urgency.LOW): 5,
    },
    levels={
        1: PriorityLevel(1, "Critical", "business outage", "red"),
        2: PriorityLevel(2, "High", "many users or a key service hurt", "dark_orange"),
        3: PriorityLevel(3, "Medium", "one user blocked, or many slowed", "yellow"),
        4: PriorityLevel(4, "Low", "inconvenience with a workaround", "green"),
        5: PriorityLevel(5, "Planning", "planned work or a request", "blue"),
    },
)
