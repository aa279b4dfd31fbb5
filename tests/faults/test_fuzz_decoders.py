"""Fuzzing every tag family's decoder, and the live path behind it, with hypothesis.

What tests/devices already fuzzes: one fresh decoder per example, single packets of random bytes on the family's
characteristics. What is added here:

* one decoder per connection fed a *sequence* of packets (decoders keep state: WitMotion reassembles frames,
  the PostureBuddy Tag learns its protocol version from the info read, Thingy:52 pairs streams);
* genuine packets from the byte-exact virtual tags, mutated (bit flips, cuts, junk appended, two spliced):
  random bytes rarely get past a header check, mutated real frames reach the field decoding;
* everything a decoder returns is a known item with finite numbers (a NaN would poison the engine);
* the decoding stage and the engine together (what LiveSession runs per packet) never raise, whatever arrives.

Reproduce a failure with the printed ``--hypothesis-seed`` or ``@reproduce_failure`` blob (see fuzz_support.py).
"""

from __future__ import annotations

import math

import pytest
from fuzz_support import FAMILY_IDS, FUZZ, family_uuids, real_packets
from hypothesis import given, note
from hypothesis import strategies as st

from posturebuddy.devices import DecodeError, get_family
from posturebuddy.model import BatteryLevel, Event, RawPacket, Sample, StreamStarted, TagStatus
from posturebuddy.session.decoding import PacketDecoder
from posturebuddy.session.engine import PostureEngine

STRANGER = "0000abcd-0000-1000-8000-00805f9b34fb"
T0 = 1_800_000_000.0


def check_decoded(items: list[object]) -> None:
    for item in items:
        assert isinstance(item, Sample | TagStatus | BatteryLevel), f"unexpected item {item!r}"
        if isinstance(item, Sample):
            for name in ("accel_g", "gyro_dps", "mag_ut", "quat_wxyz", "gravity_g"):
                value = getattr(item, name)
                assert value is None or all(math.isfinite(v) for v in value), f"{name}={value} in {item!r}"
            assert item.device_time_s is None or math.isfinite(item.device_time_s)
            assert math.isfinite(item.t_s)
        if isinstance(item, BatteryLevel):
            assert item.percent is None or 0 <= item.percent <= 100, item  # None: WitMotion below its steps
            assert item.voltage_v is None or math.isfinite(item.voltage_v), item


def feed_one_decoder(family_id: str, packets: list[tuple[str, bytes]]) -> None:
    decoder = get_family(family_id).make_decoder()
    for i, (uuid, data) in enumerate(packets):
        note(f"packet {i}: {uuid} {data.hex(' ')}")
        try:
            items = decoder.decode(RawPacket(T0 + i * 0.02, uuid, data))
        except DecodeError:
            continue
        check_decoded(list(items))


@st.composite
def random_packets(draw: st.DrawFn, family_id: str) -> list[tuple[str, bytes]]:
    uuids = [*family_uuids(get_family(family_id)), STRANGER]
    return draw(st.lists(st.tuples(st.sampled_from(uuids), st.binary(max_size=48)), max_size=30))


def mutate(draw: st.DrawFn, data: bytes, donor: bytes) -> bytes:
    how = draw(st.sampled_from(["keep", "flip", "cut", "extend", "splice", "set"]))
    if how == "keep" or (not data and how in ("flip", "set")):
        return data
    if how == "flip":
        at = draw(st.integers(0, len(data) - 1))
        return data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1 :]
    if how == "set":  # a field at its extreme: 0x00, 0x7f, 0x80 or 0xff in one or two bytes
        at = draw(st.integers(0, len(data) - 1))
        value = draw(st.sampled_from([b"\x00", b"\xff", b"\x7f", b"\x80", b"\x00\x80", b"\xff\x7f", b"\x00\x00"]))
        return (data[:at] + value + data[at + len(value) :])[: len(data)]
    if how == "cut":
        return data[: draw(st.integers(0, max(0, len(data) - 1)))]
    if how == "extend":
        return data + draw(st.binary(min_size=1, max_size=24))
    cut = draw(st.integers(0, len(data)))
    return data[:cut] + donor[cut:]


@st.composite
def mutated_real_packets(draw: st.DrawFn, family_id: str) -> list[tuple[str, bytes]]:
    corpus = real_packets(family_id)
    picks = draw(st.lists(st.integers(0, len(corpus) - 1), min_size=1, max_size=40))
    out: list[tuple[str, bytes]] = []
    for index in picks:
        uuid, data = corpus[index]
        donor = corpus[draw(st.integers(0, len(corpus) - 1))][1]
        out.append((uuid, mutate(draw, data, donor)))
    return out


@pytest.mark.parametrize("family_id", FAMILY_IDS)
def test_random_packet_sequences_raise_only_decode_error(family_id: str) -> None:
    @FUZZ
    @given(packets=random_packets(family_id))
    def run(packets: list[tuple[str, bytes]]) -> None:
        feed_one_decoder(family_id, packets)

    run()


@pytest.mark.parametrize("family_id", FAMILY_IDS)
def test_mutated_real_packets_raise_only_decode_error(family_id: str) -> None:
    @FUZZ
    @given(packets=mutated_real_packets(family_id))
    def run(packets: list[tuple[str, bytes]]) -> None:
        feed_one_decoder(family_id, packets)

    run()


def test_unmutated_real_packets_decode_without_error() -> None:
    """The corpus is genuine: without mutations every packet decodes (else the fuzzing above proves little)."""
    for family_id in FAMILY_IDS:
        decoder = get_family(family_id).make_decoder()
        samples = 0
        for i, (uuid, data) in enumerate(real_packets(family_id)):
            items = decoder.decode(RawPacket(T0 + i * 0.02, uuid, data))
            check_decoded(list(items))
            samples += sum(isinstance(item, Sample) for item in items)
        assert samples >= 35, family_id


@st.composite
def pipeline_input(draw: st.DrawFn) -> tuple[str, list[RawPacket | StreamStarted]]:
    family_id = draw(st.sampled_from(FAMILY_IDS))
    packets = draw(st.one_of(mutated_real_packets(family_id), random_packets(family_id)))
    items: list[RawPacket | StreamStarted] = []
    t = T0
    for uuid, data in packets:
        t += draw(st.sampled_from([0.0, 0.001, 0.02, 0.02, 0.02, 0.5, 30.0, -0.5]))  # bunches, gaps, steps back
        if draw(st.integers(0, 15)) == 0:  # a reconnect
            items.append(StreamStarted(t, family_id=family_id, address="F8:00:00:00:00:01", rate_hz=50.0))
        items.append(RawPacket(t, uuid, data))
    return family_id, items


@FUZZ
@given(case=pipeline_input())
def test_the_decoding_stage_and_the_engine_never_raise(case: tuple[str, list[RawPacket | StreamStarted]]) -> None:
    family_id, items = case
    decoder = PacketDecoder()
    engine = PostureEngine()
    first = StreamStarted(T0, family_id=family_id, address="F8:00:00:00:00:01", rate_hz=50.0)
    for item in [first, *items]:
        for decoded in decoder.feed(item):
            events = engine.feed(decoded)
            assert all(isinstance(e, Event) for e in events)
    assert all(isinstance(e, Event) for e in engine.tick(T0 + 10_000.0))
