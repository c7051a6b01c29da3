"""The shipped defaults in ``data/``, read and validated into domain objects."""

from __future__ import annotations

import tomllib
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, tzinfo
from functools import cache
from pathlib import Path
from typing import Any

from deskterm.domain.errors import InvalidInput
from deskterm.domain.priority import PriorityMatrix
from deskterm.domain.sla import SlaPolicy
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


def sla_path() -> Path:
    """The SLA policy in force: the ``sla_file`` setting, else ``sla.toml`` (yours, else the
    shipped one)."""
    from deskterm.config import load_settings

    return load_settings().sla_path()


@cache
def sla_policy() -> SlaPolicy:
    path = sla_path()
    try:
        return SlaPolicy.from_mapping(read_toml(path), holidays=public_holidays, zone=time_zone)
    except InvalidInput as exc:
        raise InvalidInput(f"{path}: {exc}") from None


def resolution_seconds(priority: int) -> int | None:
    """The resolution target of ``priority`` in working seconds, or None.

    A queue page or ``ticket list`` needs only this for a ticket waiting on its customer;
    building the whole policy loads the ``holidays`` package and the calendars' country
    (100-150 ms and 19 MB, measured with ``python -X importtime``), which only the clocks'
    date arithmetic needs. Read once per
    process, as ``sla_policy`` (``config check`` reads both again)."""
    return resolution_table().get(priority)


@cache
def resolution_table() -> dict[int, int]:
    path = sla_path()
    try:
        policy = SlaPolicy.from_mapping(read_toml(path), holidays=_no_holidays, zone=time_zone)
    except InvalidInput as exc:
        raise InvalidInput(f"{path}: {exc}") from None
    return {p: int(t.resolution.total_seconds()) for p, t in policy.targets.items()}


def _no_holidays(_country: str, _subdivision: str | None) -> Collection[date]:
    return frozenset()


def public_holidays(country: str, subdivision: str | None) -> Collection[date]:
    """A country's public holidays, computed year by year as they are asked about."""
    import holidays

    try:
        return holidays.country_holidays(country.strip().upper(), subdiv=subdivision)
    except NotImplementedError as exc:
        raise InvalidInput(
            f"holidays: {exc} (use a country code like GB, DE or US, and a subdivision of it)"
        ) from None


def time_zone(name: str) -> tzinfo:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"unknown time zone {name!r} (use a name like Europe/London or America/New_York)"
        ) from None


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
