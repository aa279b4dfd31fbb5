"""The supported tag families and advertisement matching.

Families are listed by module name and imported on first use, so ``import posturebuddy.devices`` stays
cheap. Adding a family is: write ``posturebuddy/devices/<name>.py`` with a ``FAMILY`` value, add the
module name to :data:`FAMILY_MODULES`, add its test vectors.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from functools import cache

from posturebuddy.devices.base import TagFamily

FAMILY_MODULES: tuple[str, ...] = ("pbtag", "thingy52", "witmotion", "sensortag", "microbit")
"""Module names under ``posturebuddy.devices``, in matching priority order."""

FILE_FAMILY_MODULES: tuple[str, ...] = ("imported",)
"""Families that exist only in recordings (no tag advertises them): :func:`get_family` finds them, scanning and
:func:`all_families` do not."""


class UnknownFamilyError(KeyError):
    """A family id that is not supported. The message lists the supported ones."""

    def __init__(self, family_id: str) -> None:
        self.family_id = family_id
        super().__init__(family_id)

    def __str__(self) -> str:
        known = ", ".join(f.family_id for f in all_families())
        return f"unknown tag family {self.family_id!r}; supported families are: {known}"


@cache
def all_families() -> tuple[TagFamily, ...]:
    """All supported families, in matching priority order."""
    families = []
    for name in FAMILY_MODULES:
        module = importlib.import_module(f"posturebuddy.devices.{name}")
        family = module.FAMILY
        assert isinstance(family, TagFamily), f"{name}.FAMILY is not a TagFamily"
        families.append(family)
    return tuple(families)


def get_family(family_id: str) -> TagFamily:
    """The family with this id. Raises :class:`UnknownFamilyError` (with the supported ids) otherwise."""
    for family in all_families():
        if family.family_id == family_id:
            return family
    if family_id in FILE_FAMILY_MODULES:
        family = importlib.import_module(f"posturebuddy.devices.{family_id}").FAMILY
        assert isinstance(family, TagFamily), f"{family_id}.FAMILY is not a TagFamily"
        return family
    raise UnknownFamilyError(family_id)


def match_advertisement(
    name: str | None,
    service_uuids: Iterable[str],
    manufacturer_data: Mapping[int, bytes] | None = None,
) -> TagFamily | None:
    """The family an advertisement belongs to, or ``None`` if it is not a supported tag.

    Matching uses advertised service UUIDs first (case-insensitive), then advertised-name prefixes.
    ``manufacturer_data`` is accepted for families that need it; none of the built-in ones do.
    """
    del manufacturer_data  # no built-in family identifies itself by manufacturer data
    uuids = {u.lower() for u in service_uuids}
    for family in all_families():
        if uuids.intersection(family.service_uuids):
            return family
    if name:
        for family in all_families():
            if any(name.startswith(prefix) for prefix in family.name_prefixes):
                return family
    return None
