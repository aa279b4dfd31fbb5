"""The family registry: advertisement matching and lookup for the commodity tag families.

Service UUIDs and names are re-declared as literals (ble_tags.md §1-4; advertised names as documented in each
family module).
"""

from __future__ import annotations

import pytest

from posturebuddy.devices import TagFamily, UnknownFamilyError, all_families, get_family, match_advertisement
from posturebuddy.model import RawPacket

THINGY_ADVERTISED = "ef680100-9b35-4933-9b10-52ffa9740042"  # configuration service, in the advertisement
THINGY_MOTION = "ef680400-9b35-4933-9b10-52ffa9740042"
WITMOTION = "0000ffe5-0000-1000-8000-00805f9a34fb"
SENSORTAG = "f000aa80-0451-4000-b000-000000000000"
MICROBIT = "e95d0753-251d-470a-a062-fa1922dfa9a8"

COMMODITY = ("thingy52", "witmotion", "sensortag", "microbit")


@pytest.mark.parametrize(
    ("uuid", "family_id"),
    [
        (THINGY_ADVERTISED, "thingy52"),
        (THINGY_MOTION, "thingy52"),
        (WITMOTION, "witmotion"),
        (SENSORTAG, "sensortag"),
        (MICROBIT, "microbit"),
        (WITMOTION.upper(), "witmotion"),  # case-insensitive
    ],
)
def test_match_by_service_uuid(uuid: str, family_id: str) -> None:
    family = match_advertisement(None, [uuid])
    assert family is not None
    assert family.family_id == family_id


@pytest.mark.parametrize(
    ("name", "family_id"),
    [
        ("Thingy", "thingy52"),
        ("WT901BLE67", "witmotion"),
        ("WT9011DCL-BT50", "witmotion"),
        ("CC2650 SensorTag", "sensortag"),
        ("BBC micro:bit [tupov]", "microbit"),
    ],
)
def test_match_by_name_prefix(name: str, family_id: str) -> None:
    family = match_advertisement(name, [])
    assert family is not None
    assert family.family_id == family_id


def test_service_uuid_wins_over_name() -> None:
    family = match_advertisement("WT-looking name", [MICROBIT])
    assert family is not None
    assert family.family_id == "microbit"


@pytest.mark.parametrize(
    ("name", "uuids"),
    [
        ("Fitbit Charge", ["0000180d-0000-1000-8000-00805f9b34fb"]),  # heart rate
        (None, []),
        ("", ["0000180f-0000-1000-8000-00805f9b34fb"]),  # battery alone identifies nobody
        ("HMSoft", ["0000ffe5-0000-1000-8000-00805f9b34fb"]),  # SIG-base ffe5: NOT WitMotion's ...9a34fb
        ("my thingy", []),  # prefixes are prefixes
    ],
)
def test_strangers_match_nothing(name: str | None, uuids: list[str]) -> None:
    assert match_advertisement(name, uuids) is None


def test_get_family_and_unknown_family() -> None:
    for family_id in COMMODITY:
        assert get_family(family_id).family_id == family_id
    with pytest.raises(UnknownFamilyError) as info:
        get_family("fitbit")
    message = str(info.value)
    assert "fitbit" in message
    for family_id in COMMODITY:
        assert family_id in message


def test_families_are_well_formed() -> None:
    families = all_families()
    ids = [f.family_id for f in families]
    assert len(ids) == len(set(ids))
    assert set(COMMODITY) <= set(ids)
    for family in families:
        assert isinstance(family, TagFamily)
        assert family.notify_uuids
        for uuid in (*family.service_uuids, *family.notify_uuids):
            assert uuid == uuid.lower()
        decoder = family.make_decoder()
        assert hasattr(decoder, "decode")
        assert family.rate_commands(family.default_rate_hz)


def test_service_uuids_do_not_overlap() -> None:
    seen: dict[str, str] = {}
    for family in all_families():
        for uuid in family.service_uuids:
            assert uuid not in seen, f"{uuid} claimed by {seen[uuid]} and {family.family_id}"
            seen[uuid] = family.family_id


def test_each_decoder_rejects_a_stranger_characteristic() -> None:
    from posturebuddy.devices import DecodeError

    for family_id in COMMODITY:
        with pytest.raises(DecodeError):
            get_family(family_id).make_decoder().decode(RawPacket(0.0, "00002a00-0000-1000-8000-00805f9b34fb", b"x"))
