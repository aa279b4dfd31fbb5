"""Scanning: which supported tags are nearby, and finding the one to connect to.

Everything goes through bleak's public ``BleakScanner`` API; :class:`BleBackend` carries the optional
``backend=`` (the simulator's bumble backend, or ``None`` for the platform's own stack).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bleak import BleakScanner
from bleak.backends.client import BaseBleakClient
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner

from posturebuddy.devices import TagFamily, get_family, match_advertisement
from posturebuddy.link.errors import TagNotFoundError, WrongModelError
from posturebuddy.model import TagInfo


@dataclass(frozen=True, slots=True)
class BleBackend:
    """Which bleak backends to use. ``None`` means bleak's default for this platform.

    Attributes:
        scanner: a ``BaseBleakScanner`` subclass passed as ``backend=`` to ``BleakScanner``.
        client: a ``BaseBleakClient`` subclass passed as ``backend=`` to ``BleakClient``.
        label: a name for logs ("system", "simulator").
        extra: more keyword arguments for ``BleakScanner``/``BleakClient`` (e.g. a simulated adapter).
    """

    scanner: type[BaseBleakScanner] | None = None
    client: type[BaseBleakClient] | None = None
    label: str = "system"
    extra: dict[str, Any] = field(default_factory=dict)

    def scanner_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``BleakScanner`` and its class methods."""
        kwargs = dict(self.extra)
        if self.scanner is not None:
            kwargs["backend"] = self.scanner
        return kwargs

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``BleakClient`` (and ``establish_connection``)."""
        kwargs = dict(self.extra)
        if self.client is not None:
            kwargs["backend"] = self.client
        return kwargs


@dataclass(frozen=True, slots=True)
class FoundDevice:
    """One device seen while scanning.

    Attributes:
        info: family, name, address, RSSI.
        family: the matched family, ``None`` for a device PostureBuddy does not support.
        device: bleak's handle, to connect without a second scan.
    """

    info: TagInfo
    family: TagFamily | None
    device: BLEDevice


def classify(device: BLEDevice, adv: AdvertisementData) -> FoundDevice:
    """Match one advertisement against the supported families."""
    family = match_advertisement(adv.local_name or device.name, adv.service_uuids, adv.manufacturer_data)
    info = TagInfo(
        family=family.family_id if family else "",
        name=adv.local_name or device.name or "",
        address=device.address,
        rssi_dbm=adv.rssi,
    )
    return FoundDevice(info=info, family=family, device=device)


async def scan(timeout_s: float, backend: BleBackend, *, include_unsupported: bool = False) -> list[FoundDevice]:
    """Scan for ``timeout_s`` seconds; supported tags first, strongest signal first."""
    seen = await BleakScanner.discover(timeout=timeout_s, return_adv=True, **backend.scanner_kwargs())
    found = [classify(device, adv) for device, adv in seen.values()]
    if not include_unsupported:
        found = [f for f in found if f.family is not None]
    found.sort(key=lambda f: (f.family is None, -(f.info.rssi_dbm if f.info.rssi_dbm is not None else -999)))
    return found


async def find_tag(*, address: str | None, family_id: str | None, timeout_s: float, backend: BleBackend) -> FoundDevice:
    """Find the tag to use.

    With ``address`` set, only that device is accepted (a stranger's tag of the same model is ignored); if it
    advertises as another model than ``family_id`` (or as no supported model and no ``family_id`` is given)
    :class:`WrongModelError` says so. Without an address, the first supported tag (of ``family_id`` if
    given) wins.

    Raises:
        TagNotFoundError: nothing suitable was seen within ``timeout_s``.
        WrongModelError: the pinned address is a different device.
    """
    wanted = get_family(family_id) if family_id and family_id != "auto" else None
    pinned = address.upper() if address else None
    seen_pinned: list[FoundDevice] = []

    def accept(device: BLEDevice, adv: AdvertisementData) -> bool:
        if pinned is not None and device.address.upper() != pinned:
            return False
        found = classify(device, adv)
        if pinned is not None:
            seen_pinned.append(found)
            return wanted is not None or found.family is not None
        if found.family is None:
            return False
        return wanted is None or found.family.family_id == wanted.family_id

    device = await BleakScanner.find_device_by_filter(accept, timeout=timeout_s, **backend.scanner_kwargs())
    if device is None:
        if seen_pinned:
            last = seen_pinned[-1]
            raise WrongModelError(
                f"The device at {address} ({last.info.name or 'no name'}) is not a supported tag: check the "
                "address with 'posturebuddy scan', or set [tag] family if it is a supported tag."
            )
        what = f"the tag {address}" if address else (f"a {wanted.display_name}" if wanted else "a supported tag")
        raise TagNotFoundError(
            f"Could not find {what} within {timeout_s:g} s: make sure it is switched on, charged and nearby "
            "(and not connected to another app), then retry."
        )
    found = seen_pinned[-1] if seen_pinned else None
    if found is None or found.device is not device:
        # find_device_by_filter returns the device of the accepted advertisement; classify it again to keep
        # the family (cheap).
        found = FoundDevice(
            info=TagInfo(family="", name=device.name or "", address=device.address),
            family=None,
            device=device,
        )
        adv_family = match_advertisement(device.name, [])
        found = FoundDevice(info=found.info, family=adv_family, device=device)
    family = wanted or found.family
    if family is None:
        raise WrongModelError(f"The device at {device.address} is not a supported tag.")
    if wanted is not None and found.family is not None and found.family.family_id != wanted.family_id:
        raise WrongModelError(
            f"The tag at {device.address} is a {found.family.display_name}, not a {wanted.display_name}: fix "
            "[tag] family in the config (or remove it to recognise the tag automatically)."
        )
    info = TagInfo(family=family.family_id, name=found.info.name, address=device.address, rssi_dbm=found.info.rssi_dbm)
    return FoundDevice(info=info, family=family, device=device)
