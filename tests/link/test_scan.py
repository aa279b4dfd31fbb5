"""Scanning through bleak's public API against advertisers on the simulator's real BLE stack.

The advertisers here only advertise (their GATT tables are empty); full virtual tags are tested in
tests/simulators/test_virtual_tags.py. No radio exists on CI machines: bumble's virtual controllers stand in.
"""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from posturebuddy.commands.scan import render, scan_and_render
from posturebuddy.link.errors import TagNotFoundError, WrongModelError
from posturebuddy.link.scan import BleBackend, find_tag, scan
from simulators.ble.backend import BumbleClient, BumbleScanner
from simulators.ble.peripheral import AdvertisementSpec, ServiceSpec, VirtualPeripheral
from simulators.ble.stack import VirtualAir, set_default_central

PB_SERVICE = "f1790001-e26d-4d35-bbd1-7e1762f003b2"
THINGY_CONFIG_SERVICE = "ef680100-9b35-4933-9b10-52ffa9740042"
SIM = BleBackend(scanner=BumbleScanner, client=BumbleClient, label="simulator")


class Advertiser(VirtualPeripheral):
    """Advertises a name and service UUIDs; serves nothing."""

    def __init__(self, name: str, services: tuple[str, ...], address: str) -> None:
        super().__init__(name, address=address)
        self._services = services

    def services(self) -> list[ServiceSpec]:
        return []

    def advertisement(self) -> AdvertisementSpec:
        return AdvertisementSpec(self.name, self._services)


@pytest_asyncio.fixture
async def air() -> AsyncIterator[VirtualAir]:
    async with VirtualAir() as air:
        set_default_central(await air.add_central())
        try:
            yield air
        finally:
            set_default_central(None)


@pytest.mark.asyncio
async def test_scan_lists_supported_tags_and_hides_strangers(air: VirtualAir) -> None:
    await air.add_peripheral(Advertiser("PB-Tag", (PB_SERVICE,), "F0:00:00:00:00:01"))
    await air.add_peripheral(Advertiser("Speaker", (), "F0:00:00:00:00:02"))
    found = await scan(0.15, SIM)
    assert [(f.info.family, f.info.name, f.info.address) for f in found] == [
        ("posturebuddy", "PB-Tag", "F0:00:00:00:00:01")
    ]
    assert found[0].info.rssi_dbm is not None
    everything = await scan(0.15, SIM, include_unsupported=True)
    assert {f.info.name for f in everything} == {"PB-Tag", "Speaker"}
    assert everything[-1].family is None  # supported tags are listed first


@pytest.mark.asyncio
async def test_scan_output_as_json_and_table(air: VirtualAir) -> None:
    await air.add_peripheral(Advertiser("Thingy", (THINGY_CONFIG_SERVICE,), "F0:00:00:00:00:03"))
    out = io.StringIO()
    assert await scan_and_render(0.15, SIM, out, as_json=True, include_all=False, pinned="f0:00:00:00:00:03") == 0
    rows = json.loads(out.getvalue())
    assert rows[0]["family"] == "thingy52"
    assert rows[0]["family_name"] == "Nordic Thingy:52"
    assert rows[0]["configured"] is True
    table = io.StringIO()
    render(await scan(0.15, SIM), table, as_json=False)
    assert "Nordic Thingy:52" in table.getvalue()
    assert "F0:00:00:00:00:03" in table.getvalue()


def test_empty_scan_explains_what_to_check() -> None:
    out = io.StringIO()
    render([], out, as_json=False)
    assert "switched on" in out.getvalue()


@pytest.mark.asyncio
async def test_a_pinned_address_ignores_a_strangers_tag_of_the_same_model(air: VirtualAir) -> None:
    await air.add_peripheral(Advertiser("PB-Tag", (PB_SERVICE,), "F0:00:00:00:00:0A"))
    await air.add_peripheral(Advertiser("PB-Tag", (PB_SERVICE,), "F0:00:00:00:00:0B"))
    found = await find_tag(address="f0:00:00:00:00:0b", family_id=None, timeout_s=1.0, backend=SIM)
    assert found.info.address == "F0:00:00:00:00:0B"
    assert found.family is not None
    assert found.family.family_id == "posturebuddy"


@pytest.mark.asyncio
async def test_wrong_model_and_not_found_say_what_to_do(air: VirtualAir) -> None:
    await air.add_peripheral(Advertiser("PB-Tag", (PB_SERVICE,), "F0:00:00:00:00:0A"))
    await air.add_peripheral(Advertiser("Speaker", (), "F0:00:00:00:00:0C"))
    with pytest.raises(WrongModelError, match="not a supported tag"):
        await find_tag(address="F0:00:00:00:00:0C", family_id=None, timeout_s=0.2, backend=SIM)
    with pytest.raises(WrongModelError, match="is a PostureBuddy Tag, not a Nordic Thingy:52"):
        await find_tag(address="F0:00:00:00:00:0A", family_id="thingy52", timeout_s=0.2, backend=SIM)
    with pytest.raises(TagNotFoundError, match="switched on"):
        await find_tag(address="F0:00:00:00:00:0F", family_id=None, timeout_s=0.1, backend=SIM)
