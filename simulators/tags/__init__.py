"""Virtual tags: one bumble GATT peripheral per supported tag family, byte-exact, playing a simulated wearer.

Each tag advertises like the real device, serves its GATT table, streams a
:class:`~simulators.wearer.simulation.SimulatedRecording` through the family's own encoders at the rate the
host sets, and honours (or rejects, with the device's ATT errors) the host's writes::

    rec = simulate("good_day", device="thingy52", duration_s=60)
    tag = await air.add_peripheral(make_virtual_tag("thingy52", rec, speed=20))

See ``simulators/tags/README.md`` for each tag's behaviour and fidelity gaps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from simulators.tags.base import SentFrame, TagOptions, VirtualTag
from simulators.tags.microbit import VirtualMicrobit
from simulators.tags.pbtag import VirtualPbTag
from simulators.tags.sensortag import VirtualSensorTag
from simulators.tags.thingy52 import VirtualThingy52
from simulators.tags.witmotion import VirtualWitMotion
from simulators.wearer.simulation import SimulatedRecording

__all__ = [
    "TAG_CLASSES",
    "SentFrame",
    "TagOptions",
    "VirtualMicrobit",
    "VirtualPbTag",
    "VirtualSensorTag",
    "VirtualTag",
    "VirtualThingy52",
    "VirtualWitMotion",
    "make_virtual_tag",
]

TAG_CLASSES: dict[str, Callable[..., VirtualTag]] = {
    "posturebuddy": VirtualPbTag,
    "thingy52": VirtualThingy52,
    "witmotion": VirtualWitMotion,
    "sensortag": VirtualSensorTag,
    "microbit": VirtualMicrobit,
}
"""Family id (as in :mod:`posturebuddy.devices.registry`) -> virtual tag class."""


def make_virtual_tag(
    family_id: str,
    recording: SimulatedRecording,
    *,
    name: str | None = None,
    address: str | None = None,
    speed: float = 1.0,
    **options: Any,
) -> VirtualTag:
    """A virtual tag of ``family_id`` playing ``recording`` at ``speed`` simulated seconds per wall second.

    ``options`` go to the tag class: the common :class:`TagOptions` (``rate_hz``, ``loop``, ``start_offset_s``,
    ``battery_percent``, ``battery_drain_pct_per_h``, ``battery_charge_pct_per_h``, ``low_battery_pct``) and the
    family's own (e.g. ``framing="split"`` for WitMotion, ``haptic=False`` for the PostureBuddy Tag).

    Raises:
        KeyError: an unknown family id (the message lists the known ones).
        TypeError: an option the family does not take.
    """
    cls = TAG_CLASSES.get(family_id)
    if cls is None:
        raise KeyError(f"no virtual tag for family {family_id!r}; known: {', '.join(TAG_CLASSES)}")
    return cls(recording, name=name, address=address, speed=speed, **options)
