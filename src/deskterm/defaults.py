"""The shipped defaults in ``data/``, read and validated into domain objects."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

from deskterm.domain.errors import InvalidInput
from deskterm.domain.priority import PriorityMatrix, parse_priority
from deskterm.domain.sla import SlaPolicy, SlaTargets
from deskterm.paths import data_file


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise InvalidInput(f"{path} is missing") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"{path}: {exc}") from None


def _load(name: str) -> dict[str, Any]:
    return read_toml(data_file(name))


@cache
def priority_matrix() -> PriorityMatrix:
    try:
        return PriorityMatrix.from_mapping(_load("priority.toml"))
    except InvalidInput as exc:
        raise InvalidInput(f"{data_file('priority.toml')}: {exc}") from None


@cache
def sla_policy() -> SlaPolicy:
    raw = _load("sla.toml")
    targets: dict[int, SlaTargets] = {}
    for key, spec in raw.items():
        if not isinstance(spec, dict):
            continue
        number = parse_priority(key)
        try:
            targets[number] = SlaTargets(
                response=timedelta(hours=float(spec["response_hours"])),
                resolution=timedelta(hours=float(spec["resolution_hours"])),
            )
        except (KeyError, TypeError, ValueError):
            raise InvalidInput(
                f"{data_file('sla.toml')}: {key} needs response_hours and resolution_hours"
            ) from None
    return SlaPolicy(targets=targets, warning_share=float(raw.get("warning_share", 0.75)))


@dataclass(frozen=True)
class GroupSpec:
    name: str
    level: int
    description: str
    escalates_to: str | None


@dataclass(frozen=True)
class CategorySpec:
    path: str
    group: str | None


def group_specs() -> list[GroupSpec]:
    return [
        GroupSpec(
            name=g["name"],
            level=int(g.get("level", 1)),
            description=g.get("description", ""),
            escalates_to=g.get("escalates_to"),
        )
        for g in _load("desk.toml").get("groups", [])
    ]


def category_specs() -> list[CategorySpec]:
    return [
        CategorySpec(path=c["path"], group=c.get("group"))
        for c in _load("categories.toml").get("category", [])
    ]


def resolution_codes() -> dict[str, str]:
    return dict(_load("resolution_codes.toml").get("codes", {}))
