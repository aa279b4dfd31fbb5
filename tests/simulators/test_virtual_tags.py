"""The virtual tags, seen only through bleak's public API (and bleak-retry-connector) and the family modules.

Each test builds a fresh air with one central and one virtual tag playing a 20 s simulated recording at 20x
speed, finds it with ``BleakScanner`` + ``match_advertisement``, connects with ``BleakClient`` or
``establish_connection`` and checks what the app would see.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import math
import struct
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
import pytest
import pytest_asyncio
from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakError, BleakGATTProtocolError
from bleak_retry_connector import establish_connection

import firmware_protocol as fp
from posturebuddy.devices import GattWrite, NudgePattern, TagFamily, get_family, match_advertisement
from posturebuddy.devices import sensortag as st_dev
from posturebuddy.devices import thingy52 as th_dev
from posturebuddy.devices import witmotion as wit_dev
from posturebuddy.devices.battery import BATTERY_LEVEL_CHAR_UUID, decode_battery_level
from posturebuddy.devices.microbit import ACCELEROMETER_PERIOD_CHAR_UUID
from posturebuddy.model import BatteryLevel, Decoded, Quat, RawPacket, Sample
from simulators.ble import BumbleClient, BumbleScanner, SimBleakClient, VirtualAir, set_default_central
from simulators.ble.stack import Central
from simulators.tags import (
    VirtualMicrobit,
    VirtualPbTag,
    VirtualSensorTag,
    VirtualTag,
    VirtualThingy52,
    VirtualWitMotion,
    make_virtual_tag,
)
from simulators.wearer import simulate
from simulators.wearer.simulation import SimulatedRecording

SPEED = 20.0
WAIT_S = 2.0
FAMILIES = ("posturebuddy", "thingy52", "witmotion", "sensortag", "microbit")
QUATERNION_FAMILIES = ("posturebuddy", "thingy52", "witmotion")
SIG_BATTERY_FAMILIES = ("posturebuddy", "thingy52", "sensortag")

QUAT_BOUND_DEG = {"posturebuddy": 0.05, "thingy52": 0.001, "witmotion": 0.05}
"""Angle between decoded and true orientation: Q14 (pbtag), Q2.30 (Thingy), int16 Z-Y-X angles (WitMotion)."""
ACCEL_BOUND_DEG = {"posturebuddy": 0.05, "thingy52": 0.15, "witmotion": 0.1, "sensortag": 0.05, "microbit": 0.15}
"""Angle between decoded and true acceleration: 1/4096 g, 1/1024 g, 16/32768 g, 8/32768 g, 1 milli-g steps."""
RATES_HZ = {
    "posturebuddy": (25.0, 100.0),
    "thingy52": (10.0, 50.0),
    "witmotion": (10.0, 50.0),
    "sensortag": (2.0, 10.0),
    "microbit": (12.5, 50.0),
}
ADVERTISING = {
    "posturebuddy": "020106 1107b203f062177ed1bb354d6de2010079f1 0708" + b"PB-Tag".hex(),
    "thingy52": "020106 11064200" + "74a9ff52109b3349359b000168ef" + "0709" + b"Thingy".hex(),
    "witmotion": "020106 0b09" + b"WT901BLE68".hex(),
    "sensortag": "020106 030280aa 1109" + b"CC2650 SensorTag".hex(),
    "microbit": "020106 1609" + b"BBC micro:bit [tupov]".hex(),
}


@cache
def recording(family_id: str) -> SimulatedRecording:
    return simulate("good_day", device=family_id, duration_s=20)


@dataclass
class Sim:
    air: VirtualAir
    hub: Central
    tag: VirtualTag
    family: TagFamily


@contextlib.asynccontextmanager
async def tag_air(family_id: str, rec: SimulatedRecording | None = None, **options: Any) -> AsyncIterator[Sim]:
    async with VirtualAir() as air:
        hub = await air.add_central()
        set_default_central(hub)
        tag = make_virtual_tag(family_id, rec or recording(family_id), speed=SPEED, **options)
        await air.add_peripheral(tag)
        try:
            yield Sim(air, hub, tag, get_family(family_id))
        finally:
            set_default_central(None)


@pytest_asyncio.fixture(params=FAMILIES)
async def sim(request: pytest.FixtureRequest) -> AsyncIterator[Sim]:
    async with tag_air(request.param) as sim:
        yield sim


async def find(sim: Sim) -> tuple[BLEDevice, AdvertisementData]:
    seen: dict[str, AdvertisementData] = {}

    def is_ours(device: BLEDevice, adv: AdvertisementData) -> bool:
        seen[device.address] = adv
        return match_advertisement(adv.local_name, adv.service_uuids, adv.manufacturer_data) is sim.family

    device = await BleakScanner.find_device_by_filter(is_ours, timeout=1.0, backend=BumbleScanner)
    assert device is not None, f"no advertisement matched {sim.family.family_id}: {seen}"
    assert device.address == sim.tag.address
    return device, seen[device.address]


@dataclass
class Collector:
    """Records notifications as RawPackets (host time = event-loop time)."""

    packets: list[RawPacket] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def handler(self, uuid: str) -> Any:
        loop = asyncio.get_running_loop()

        def on_data(_sender: BleakGATTCharacteristic, data: bytearray) -> None:
            self.packets.append(RawPacket(loop.time(), uuid, bytes(data)))
            self.arrived.set()

        return on_data

    def of(self, uuid: str) -> list[RawPacket]:
        return [p for p in self.packets if p.char_uuid == uuid]

    async def wait_for(self, count: int) -> None:
        async with asyncio.timeout(WAIT_S):
            while len(self.packets) < count:
                self.arrived.clear()
                await self.arrived.wait()


async def sent_after(tag: VirtualTag, char_uuid: str, mark: float, count: int) -> list[float]:
    """Simulated times of the frames ``tag`` sent on ``char_uuid`` after ``mark``, once there are ``count`` (or
    when WAIT_S runs out)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while True:
        times = [f.t_s for f in list(tag.sent) if f.char_uuid == char_uuid and f.t_s > mark]
        if len(times) >= count or loop.time() > deadline:
            return times
        await asyncio.sleep(0.01)


async def write_all(client: BleakClient, writes: Sequence[GattWrite]) -> None:
    for write in writes:
        await client.write_gatt_char(write.char_uuid, write.data, response=write.response)
        if write.pause_after_s:
            await asyncio.sleep(write.pause_after_s / SPEED)


async def subscribe(client: BleakClient, family: TagFamily, collector: Collector) -> None:
    for uuid in family.notify_uuids:
        await client.start_notify(uuid, collector.handler(uuid))
    await write_all(client, family.start_commands())


def quat_angle_deg(a: Quat, b: Sequence[float]) -> float:
    dot = abs(sum(x * y for x, y in zip(a, b, strict=True)))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(x * x for x in b))
    return math.degrees(2.0 * math.acos(min(1.0, dot / norm)))


def vector_angle_deg(a: Sequence[float], b: Sequence[float]) -> float:
    va, vb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    cos = float(va @ vb / (np.linalg.norm(va) * np.linalg.norm(vb)))
    return math.degrees(math.acos(max(-1.0, min(1.0, cos))))


def decode_all(family: TagFamily, packets: Sequence[RawPacket]) -> list[Decoded]:
    decoder = family.make_decoder()
    return [item for p in packets for item in decoder.decode(p)]


# -- advertising -----------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_advertisement_is_recognised_as_its_family(sim: Sim) -> None:
    _, adv = await find(sim)
    assert match_advertisement(adv.local_name, adv.service_uuids) is sim.family
    assert sim.tag.advertisement().to_bytes() == bytes.fromhex(ADVERTISING[sim.family.family_id])


@pytest.mark.asyncio
async def test_posturebuddy_advertises_the_shortened_name_and_the_service() -> None:
    async with tag_air("posturebuddy") as sim:
        _, adv = await find(sim)
        assert adv.local_name == fp.LOCAL_NAME_PREFIX
        assert adv.service_uuids == [fp.SERVICE_UUID]
        assert sim.tag.name == "PB-Tag-" + str(sim.tag.address).replace(":", "")[-4:]


# -- streaming ---------------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_stream_decodes_to_the_recordings_truth(sim: Sim) -> None:
    family, tag, rec = sim.family, sim.tag, sim.tag.recording
    device, _ = await find(sim)
    collector = Collector()
    async with BleakClient(device, backend=BumbleClient) as client:
        await subscribe(client, family, collector)
        await write_all(client, family.rate_commands(RATES_HZ[family.family_id][1]))
        await collector.wait_for(30 * len(family.notify_uuids))
    checked_quat = checked_accel = 0
    for uuid in family.notify_uuids:
        samples = [s for s in decode_all(family, collector.of(uuid)) if isinstance(s, Sample)]
        sent = [f for f in tag.sent if f.char_uuid == uuid]
        assert len(samples) == len(collector.of(uuid)) <= len(sent)
        for sample, frame in zip(samples, sent, strict=False):
            if sample.quat_wxyz is not None:
                truth_q = rec.quat_wxyz[frame.index]
                assert quat_angle_deg(sample.quat_wxyz, truth_q) < QUAT_BOUND_DEG[family.family_id]
                checked_quat += 1
            if sample.accel_g is not None:
                assert vector_angle_deg(sample.accel_g, rec.accel_g[frame.index]) < ACCEL_BOUND_DEG[family.family_id]
                checked_accel += 1
    assert checked_accel >= 20
    assert checked_quat >= (20 if family.family_id in QUATERNION_FAMILIES else 0)


@pytest.mark.asyncio
async def test_rate_commands_change_the_notification_rate(sim: Sim) -> None:
    """Each rate command changes the spacing of the frames the tag sends, on the tag's simulated clock.

    The rate is measured from the simulated timestamps of the frames sent after each command, not from wall-clock
    throughput: a loaded CI machine may make the tag fall behind and skip samples (wider gaps), but never closer
    ones, so the smallest and the typical spacing must both equal ``1 / rate``.
    """
    family, tag = sim.family, sim.tag
    low, high = RATES_HZ[family.family_id]
    first = family.notify_uuids[0]
    device, _ = await find(sim)
    collector = Collector()
    async with BleakClient(device, backend=BumbleClient) as client:
        await subscribe(client, family, collector)
        spacings: list[np.ndarray] = []
        for rate in (low, high):
            await write_all(client, family.rate_commands(rate))
            assert tag.rate_hz == pytest.approx(rate)
            mark = tag.sent[-1].t_s if tag.sent else -math.inf
            received_before = len(collector.packets)
            await collector.wait_for(received_before + 12 * len(family.notify_uuids))
            # The first frame after the command may still be on the old schedule; skip it. Frames sent before the
            # command may still be arriving on a loaded machine, so wait for the tag's own count as well.
            times = await sent_after(tag, first, mark, 9)
            times = times[1:]
            assert len(times) >= 8
            spacings.append(np.diff(times))
    for rate, spacing in zip((low, high), spacings, strict=True):
        assert spacing.min() == pytest.approx(1.0 / rate, rel=1e-6)
        assert np.median(spacing) == pytest.approx(1.0 / rate, rel=1e-6)


@pytest.mark.asyncio
async def test_out_of_range_samples_are_not_sent() -> None:
    rec = recording("posturebuddy")
    absent = dataclasses.replace(rec, present=np.zeros_like(rec.present))
    async with tag_air("posturebuddy", absent) as sim:
        device, _ = await find(sim)
        collector = Collector()
        async with BleakClient(device, backend=BumbleClient) as client:
            await subscribe(client, sim.family, collector)
            await asyncio.sleep(0.1)
        assert collector.packets == []
        assert sim.tag.samples_generated > 10


# -- reconnects, battery, faults -----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_survives_a_dropped_connection_and_reconnects(sim: Sim) -> None:
    device, _ = await find(sim)
    dropped = asyncio.Event()
    for attempt in range(2):
        client = await establish_connection(
            SimBleakClient, device, sim.tag.name, disconnected_callback=lambda _c: dropped.set()
        )
        collector = Collector()
        await subscribe(client, sim.family, collector)
        await collector.wait_for(3)
        if attempt == 0:
            await sim.tag.drop_connection()
            await dropped.wait()
            assert not client.is_connected
        else:
            await client.disconnect()
    assert sim.tag.stats.connections == 2


@pytest.mark.asyncio
@pytest.mark.parametrize("family_id", SIG_BATTERY_FAMILIES)
async def test_battery_drain_is_visible_in_a_battery_read(family_id: str) -> None:
    async with tag_air(family_id, battery_drain_pct_per_h=3600.0) as sim:
        device, _ = await find(sim)
        async with BleakClient(device, backend=BumbleClient) as client:
            first = (await client.read_gatt_char(BATTERY_LEVEL_CHAR_UUID))[0]
            assert 95 <= first <= 100
            await asyncio.sleep(0.2)  # 4 simulated seconds at 1 %/s
            second = (await client.read_gatt_char(BATTERY_LEVEL_CHAR_UUID))[0]
            assert 2 <= first - second <= 6
            sim.tag.drain_battery_to(37.0)
            level = decode_battery_level(await client.read_gatt_char(BATTERY_LEVEL_CHAR_UUID), t_s=0.0)
            assert level == BatteryLevel(t_s=0.0, percent=37)


@pytest.mark.asyncio
async def test_battery_level_is_notified_on_change() -> None:
    async with tag_air("posturebuddy") as sim:
        device, _ = await find(sim)
        collector = Collector()
        async with BleakClient(device, backend=BumbleClient) as client:
            await client.start_notify(BATTERY_LEVEL_CHAR_UUID, collector.handler(BATTERY_LEVEL_CHAR_UUID))
            sim.tag.drain_battery_to(55.0)
            sim.tag.drain_battery_to(54.0)
            await collector.wait_for(2)
        assert [p.data for p in collector.packets] == [bytes([55]), bytes([54])]


@pytest.mark.asyncio
async def test_witmotion_battery_register_follows_the_drain() -> None:
    async with tag_air("witmotion") as sim:
        device, _ = await find(sim)
        collector = Collector()
        async with BleakClient(device, backend=BumbleClient) as client:
            await client.write_gatt_char(wit_dev.WRITE_CHAR_UUID, wit_dev.register_write_command(0x03, 0x0D), True)
            await client.start_notify(wit_dev.NOTIFY_CHAR_UUID, collector.handler(wit_dev.NOTIFY_CHAR_UUID))
            sim.tag.drain_battery_to(37.0)
            await write_all(client, [wit_dev.READ_BATTERY])
            await collector.wait_for(1)
        levels = [d for d in decode_all(sim.family, collector.packets) if isinstance(d, BatteryLevel)]
        assert len(levels) == 1
        assert levels[0].voltage_v == pytest.approx(3.40 + 0.0065 * 37, abs=0.011)


@pytest.mark.asyncio
async def test_empty_battery_silences_the_tag_until_recharged(sim: Sim) -> None:
    device, _ = await find(sim)
    dropped = asyncio.Event()
    client = BleakClient(device, lambda _c: dropped.set(), backend=BumbleClient)
    await client.connect()
    collector = Collector()
    await subscribe(client, sim.family, collector)
    sim.tag.drain_battery_to(0.0)
    await dropped.wait()
    assert not sim.tag.is_advertising
    assert await BleakScanner.find_device_by_address(device.address, timeout=0.08, backend=BumbleScanner) is None
    sim.tag.recharge(80.0)
    again, _ = await find(sim)
    async with BleakClient(again, backend=BumbleClient) as client:
        assert client.is_connected


@pytest.mark.asyncio
async def test_peripheral_faults_still_apply() -> None:
    async with tag_air("posturebuddy") as sim:
        device, _ = await find(sim)
        collector = Collector()
        async with BleakClient(device, backend=BumbleClient) as client:
            await subscribe(client, sim.family, collector)
            await collector.wait_for(2)
            sim.tag.lose_next(3)
            await collector.wait_for(10)
        seqs = [fp.decode_motion(p.data).seq for p in collector.packets]
        assert sum(fp.seq_delta(a, b) - 1 for a, b in itertools.pairwise(seqs)) == 3
        assert sim.tag.stats.lost == 3


# -- PostureBuddy Tag ------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_posturebuddy_control_writes_take_effect_and_bad_ones_get_spec_errors() -> None:
    async with tag_air("posturebuddy", haptic=False) as sim:
        tag = sim.tag
        assert isinstance(tag, VirtualPbTag)
        device, _ = await find(sim)
        async with BleakClient(device, backend=BumbleClient) as client:
            await write_all(client, sim.family.nudge_commands(NudgePattern.GENTLE))
            await write_all(client, sim.family.nudge_commands(NudgePattern.IDENTIFY))
            await client.write_gatt_char(fp.CONTROL_CHAR_UUID, bytes.fromhex("04ff8000c8002c0103"), response=True)
            assert [d for _, d in tag.cues] == [
                "cue gentle",
                "identify 5 s",
                "led #ff8000 3 x 200 ms on / 300 ms off",
            ]
            for data, code in [
                (b"\x01\x32", fp.ATT_ERROR_INVALID_LENGTH),
                (b"\x09", fp.ATT_ERROR_UNKNOWN_OPCODE),
                (b"\x01\x0b\x00", fp.ATT_ERROR_OUT_OF_RANGE),
                (b"\x02\x07", fp.ATT_ERROR_OUT_OF_RANGE),
                (bytes.fromhex("0378000000013c"), fp.ATT_ERROR_FEATURE_ABSENT),
            ]:
                with pytest.raises(BleakGATTProtocolError) as error:
                    await client.write_gatt_char(fp.CONTROL_CHAR_UUID, data, response=True)
                assert error.value.code == code, data.hex()
            assert len(tag.cues) == 3
            info = fp.decode_device_info(await client.read_gatt_char(fp.DEVICE_INFO_CHAR_UUID))
            assert info.current_rate_hz == 50
            assert not info.features & fp.Feature.HAPTIC
            await write_all(client, sim.family.rate_commands(10))
            info = fp.decode_device_info(await client.read_gatt_char(fp.DEVICE_INFO_CHAR_UUID))
            assert info.current_rate_hz == 10


@pytest.mark.asyncio
async def test_posturebuddy_frames_carry_seq_time_and_status() -> None:
    async with tag_air("posturebuddy") as sim:
        tag = sim.tag
        device, _ = await find(sim)
        collector = Collector()
        async with BleakClient(device, backend=BumbleClient) as client:
            await subscribe(client, sim.family, collector)
            await collector.wait_for(5)
            tag.set_charging(True)
            tag.drain_battery_to(10.0)
            before = len(collector.packets)
            await collector.wait_for(before + 3)
        frames = [fp.decode_motion(p.data) for p in collector.packets]
        assert frames[0].status & fp.StatusFlags.STREAM_START
        assert not any(f.status & fp.StatusFlags.STREAM_START for f in frames[1:])
        assert all(f.status & fp.StatusFlags.WORN for f in frames)
        assert [fp.seq_delta(a.seq, b.seq) for a, b in itertools.pairwise(frames)] == [1] * (len(frames) - 1)
        assert {(b.device_time_ms - a.device_time_ms) % 65536 for a, b in itertools.pairwise(frames)} <= {
            19,
            20,
            21,
        }
        assert frames[-1].status & fp.StatusFlags.CHARGING
        assert frames[-1].status & fp.StatusFlags.LOW_BATTERY


# -- Thingy:52 ---------------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_thingy_config_led_and_sound_writes() -> None:
    async with tag_air("thingy52") as sim:
        tag = sim.tag
        assert isinstance(tag, VirtualThingy52)
        device, _ = await find(sim)
        collector = Collector()
        async with BleakClient(device, backend=BumbleClient) as client:
            config = th_dev.decode_motion_config(await client.read_gatt_char(th_dev.MOTION_CONFIG_CHAR_UUID))
            assert config == th_dev.DEFAULT_MOTION_CONFIG
            for bad in (bytes.fromhex("e803f401f4010a0002"), bytes.fromhex("e803f401f4010400"), b"\x00" * 9):
                with pytest.raises(BleakGATTProtocolError) as error:
                    await client.write_gatt_char(th_dev.MOTION_CONFIG_CHAR_UUID, bad, response=True)
                assert error.value.code == 0x03
            await write_all(client, sim.family.rate_commands(20))
            assert (
                th_dev.decode_motion_config(await client.read_gatt_char(th_dev.MOTION_CONFIG_CHAR_UUID)).motion_freq_hz
                == 20
            )
            with pytest.raises(BleakGATTProtocolError) as error:
                await client.write_gatt_char(th_dev.LED_CHAR_UUID, bytes.fromhex("0301"), response=True)
            assert error.value.code == 0x03
            uuid = th_dev.SPEAKER_STATUS_CHAR_UUID
            await client.start_notify(uuid, collector.handler(uuid))
            await write_all(client, sim.family.nudge_commands(NudgePattern.GENTLE))
            assert await client.read_gatt_char(th_dev.LED_CHAR_UUID) == bytes.fromhex("030628")
            await collector.wait_for(1)  # the 150 ms tone finishes after 7.5 ms of wall time
            await client.write_gatt_char(th_dev.SPEAKER_DATA_CHAR_UUID, bytes.fromhex("3200c80032"), response=False)
            await collector.wait_for(2)
        assert [d for _, d in tag.cues] == [
            "tone 880 Hz 150 ms at 30 %",
            "LED LedOneShot(colour=<LedColour.CYAN: 6>, intensity_pct=40)",
        ]
        statuses = [th_dev.decode_speaker_status(p.data) for p in collector.packets]
        assert statuses == [th_dev.SpeakerStatus.FINISHED, th_dev.SpeakerStatus.INVALID_COMMAND]


@pytest.mark.asyncio
async def test_thingy_gravity_points_up_in_the_tag_frame() -> None:
    async with tag_air("thingy52") as sim:
        device, _ = await find(sim)
        collector = Collector()
        async with BleakClient(device, backend=BumbleClient) as client:
            await client.start_notify(th_dev.GRAVITY_CHAR_UUID, collector.handler(th_dev.GRAVITY_CHAR_UUID))
            await collector.wait_for(5)
        sent = [f for f in sim.tag.sent if f.char_uuid == th_dev.GRAVITY_CHAR_UUID]
        rec = sim.tag.recording
        for packet, frame in zip(collector.packets, sent, strict=False):
            gravity = th_dev.decode_gravity_g(packet.data)
            assert math.hypot(*gravity) == pytest.approx(1.0, abs=1e-6)
            assert vector_angle_deg(gravity, rec.accel_g[frame.index]) < 3.0  # sitting still: accel is mostly gravity


# -- WitMotion ---------------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_witmotion_register_reads_reply_with_0x71_frames() -> None:
    async with tag_air("witmotion", temperature_c=25.34) as sim:
        tag = sim.tag
        assert isinstance(tag, VirtualWitMotion)
        device, _ = await find(sim)
        collector = Collector()
        async with BleakClient(device, backend=BumbleClient) as client:
            await write_all(client, wit_dev.settings_commands(wit_dev.register_write_command(0x03, 0x0D), "off"))
            await client.start_notify(wit_dev.NOTIFY_CHAR_UUID, collector.handler(wit_dev.NOTIFY_CHAR_UUID))
            await write_all(client, sim.family.poll_commands())
            await write_all(client, [wit_dev.READ_TEMPERATURE])
            await collector.wait_for(3)
        frames = [wit_dev.decode_frame(p.data) for p in collector.packets]
        assert all(isinstance(f, wit_dev.RegisterFrame) for f in frames)
        assert [f.start_register for f in frames if isinstance(f, wit_dev.RegisterFrame)] == [0x51, 0x64, 0x40]
        quat_frame = frames[0]
        assert isinstance(quat_frame, wit_dev.RegisterFrame)
        quat = wit_dev.quaternion_from_reply(quat_frame)
        assert quat is not None
        assert quat_angle_deg(quat, tag.recording.quat_wxyz[tag.sent[0].index]) < 0.02
        temperature = frames[2]
        assert isinstance(temperature, wit_dev.RegisterFrame)
        assert wit_dev.temperature_c_from_reply(temperature) == pytest.approx(25.34)
        assert any(d == "save" for _, d in tag.commands)


@pytest.mark.asyncio
@pytest.mark.parametrize("framing", ["concatenated", "split"])
async def test_witmotion_framing_modes_decode_like_single_frames(framing: str) -> None:
    async with tag_air("witmotion", framing=framing) as sim:
        device, _ = await find(sim)
        collector = Collector()
        async with BleakClient(device, backend=BumbleClient) as client:
            await subscribe(client, sim.family, collector)
            await collector.wait_for(20)
        sizes = {len(p.data) for p in collector.packets}
        assert sizes == ({40} if framing == "concatenated" else {7, 13})
        samples = [s for s in decode_all(sim.family, collector.packets) if isinstance(s, Sample)]
        sent = list(sim.tag.sent)
        assert len(samples) >= 10
        for sample, frame in zip(samples, sent, strict=False):
            assert sample.quat_wxyz is not None
            assert quat_angle_deg(sample.quat_wxyz, sim.tag.recording.quat_wxyz[frame.index]) < 0.05


@pytest.mark.asyncio
async def test_witmotion_concatenation_needs_a_large_enough_mtu() -> None:
    async with tag_air("witmotion", framing="concatenated") as sim:
        device, _ = await find(sim)
        collector = Collector()
        async with BleakClient(device, backend=BumbleClient, mtu=None) as client:
            await subscribe(client, sim.family, collector)
            await collector.wait_for(5)
        assert {len(p.data) for p in collector.packets} == {20}


@pytest.mark.asyncio
async def test_witmotion_zero_reference_angle() -> None:
    async with tag_air("witmotion") as sim:
        device, _ = await find(sim)
        collector = Collector()
        async with BleakClient(device, backend=BumbleClient) as client:
            await subscribe(client, sim.family, collector)
            await write_all(client, wit_dev.zero_reference_angle_commands())
            before = len(collector.packets)
            await collector.wait_for(before + 3)
        last = wit_dev.decode_imu_frame(collector.packets[-1].data)
        assert max(abs(a) for a in last.angles_deg) < 5.0  # sitting still: close to the zeroed attitude


# -- SensorTag -----------------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_sensortag_range_config_and_period() -> None:
    async with tag_air("sensortag") as sim:
        tag = sim.tag
        assert isinstance(tag, VirtualSensorTag)
        device, _ = await find(sim)
        collector = Collector()
        async with BleakClient(device, backend=BumbleClient) as client:
            assert await client.read_gatt_char(st_dev.PERIOD_CHAR_UUID) == b"\x64"  # 1000 ms until written
            assert await client.read_gatt_char(st_dev.CONFIG_CHAR_UUID) == b"\x00\x02"
            for uuid, data, code in [
                (st_dev.CONFIG_CHAR_UUID, b"\x3f", 0x0D),
                (st_dev.CONFIG_CHAR_UUID, b"\x3f\x02\x00", 0x0D),
                (st_dev.PERIOD_CHAR_UUID, b"\x09", 0x80),
                (st_dev.PERIOD_CHAR_UUID, b"\x0a\x00", 0x0D),
            ]:
                with pytest.raises(BleakGATTProtocolError) as error:
                    await client.write_gatt_char(uuid, data, response=True)
                assert error.value.code == code
            await client.start_notify(st_dev.DATA_CHAR_UUID, collector.handler(st_dev.DATA_CHAR_UUID))
            await asyncio.sleep(0.1)
            assert collector.packets == []  # sensors off at reset: no data
            await write_all(client, sim.family.rate_commands(10))
            raw_by_range: dict[int, list[tuple[int, ...]]] = {}
            for config in (b"\x38\x02", b"\x38\x00"):  # accel only at 8 g, then at 2 g
                await client.write_gatt_char(st_dev.CONFIG_CHAR_UUID, config, response=True)
                decoder = sim.family.make_decoder()
                decoder.decode(
                    RawPacket(0.0, st_dev.CONFIG_CHAR_UUID, bytes(await client.read_gatt_char(st_dev.CONFIG_CHAR_UUID)))
                )
                start = len(collector.packets)
                await collector.wait_for(start + 4)
                new = collector.packets[start + 1 :]  # the first may predate the config
                raw_by_range[config[1]] = [struct.unpack("<9h", p.data) for p in new]
                for packet in new:
                    (sample,) = decoder.decode(packet)
                    assert isinstance(sample, Sample)
                    assert sample.gyro_dps is None
                    assert sample.accel_g is not None
                    assert math.hypot(*sample.accel_g) == pytest.approx(1.0, abs=0.1)
                assert all(raw[:3] == (0, 0, 0) for raw in raw_by_range[config[1]])  # gyro off: zeros
            ay_8g = np.mean([raw[4] for raw in raw_by_range[2]])
            ay_2g = np.mean([raw[4] for raw in raw_by_range[0]])
            assert ay_2g / ay_8g == pytest.approx(4.0, rel=0.05)
            await client.write_gatt_char(st_dev.CONFIG_CHAR_UUID, b"\x00\x00", response=True)
            await asyncio.sleep(0.02)
            count = len(collector.packets)
            await asyncio.sleep(0.15)
            assert len(collector.packets) == count  # powered off


# -- micro:bit -----------------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_microbit_period_snaps_and_reads_back() -> None:
    async with tag_air("microbit") as sim:
        device, _ = await find(sim)
        async with BleakClient(device, backend=BumbleClient) as client:
            assert await client.read_gatt_char(ACCELEROMETER_PERIOD_CHAR_UUID) == struct.pack("<H", 20)
            for requested, actual in [(15, 10), (100, 80), (1000, 640), (3, 2)]:
                await client.write_gatt_char(ACCELEROMETER_PERIOD_CHAR_UUID, struct.pack("<H", requested), True)
                assert await client.read_gatt_char(ACCELEROMETER_PERIOD_CHAR_UUID) == struct.pack("<H", actual)
                assert sim.tag.rate_hz == pytest.approx(1000 / actual)


@pytest.mark.asyncio
async def test_microbit_period_zero_crashes_then_reboots() -> None:
    async with tag_air("microbit", crash_downtime_s=4.0) as sim:
        tag = sim.tag
        assert isinstance(tag, VirtualMicrobit)
        device, _ = await find(sim)
        dropped = asyncio.Event()
        client = BleakClient(device, lambda _c: dropped.set(), backend=BumbleClient)
        await client.connect()
        with pytest.raises(BleakError):
            await client.write_gatt_char(ACCELEROMETER_PERIOD_CHAR_UUID, b"\x00\x00", response=True)
        await dropped.wait()
        assert tag.crashes == 1
        assert not tag.is_advertising
        again, _ = await find(sim)  # back after 4 simulated seconds (0.2 s)
        async with BleakClient(again, backend=BumbleClient) as client:
            assert await client.read_gatt_char(ACCELEROMETER_PERIOD_CHAR_UUID) == struct.pack("<H", 20)


# -- factory -------------------------------------------------------------------------------------------------------


def test_factory_builds_each_family_and_rejects_unknown_ones() -> None:
    classes = [VirtualPbTag, VirtualThingy52, VirtualWitMotion, VirtualSensorTag, VirtualMicrobit]
    for family_id, cls in zip(FAMILIES, classes, strict=True):
        tag = make_virtual_tag(family_id, recording(family_id), name="X-1", address="F0:11:22:33:44:55", speed=3)
        assert type(tag) is cls
        assert (tag.name, tag.address, tag.speed) == ("X-1", "F0:11:22:33:44:55", 3.0)
    with pytest.raises(KeyError, match="known"):
        make_virtual_tag("nope", recording("microbit"))
    with pytest.raises(TypeError):
        make_virtual_tag("microbit", recording("microbit"), framing="split")
