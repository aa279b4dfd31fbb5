"""``python -m simulators``: list, record (offline virtual tags into a recording) and serve (bumble transports).

``record`` is checked for every family on 30 s of ``slouchy_afternoon``: the file opens, the packet count is what
the family sends, the packets decode (through the family's own decoder) to the simulator's true orientation or
acceleration, the truth segments match :func:`simulators.wearer.simulate`, and two runs give identical packets.
``serve`` is checked on ``usb:0`` (no USB here: one sentence, exit 1) and, in-process, on ``tcp-server``: an
"app" (a bumble host on ``tcp-client``) finds the tag, connects, receives motion notifications, then dies
without disconnecting; the watchdog frees the tag and a second app connects.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import json
import math
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from bumble import hci
from bumble.core import UUID
from bumble.device import Advertisement, Device, Peer
from bumble.transport import open_transport
from bumble.transport.common import Transport

from firmware_protocol import MOTION_CHAR_UUID, StatusFlags, decode_motion
from posturebuddy.devices import get_family
from posturebuddy.model import Sample
from posturebuddy.session.recording import RecordingReader, TruthKind, open_recording
from simulators.ble.stack import VirtualAir, close_transport
from simulators.cli import main, parse_start
from simulators.record import BEHAVIOUR_KIND, host_clock, simulate_for
from simulators.serve import Served, ServeOptions, serve
from simulators.tags import TAG_CLASSES, make_virtual_tag
from simulators.wearer import SimulatedRecording, list_scenarios

SCENARIO = "slouchy_afternoon"
DURATION_S = 30.0
FAMILIES = tuple(TAG_CLASSES)


def _run(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    code = main(argv, out=out)
    return code, out.getvalue()


def _record(tmp_path: Path, device: str, *extra: str, name: str = "rec.pbrec") -> Path:
    path = tmp_path / name
    code, out = _run(
        [
            "record",
            "--scenario",
            SCENARIO,
            "--device",
            device,
            "--duration",
            str(DURATION_S),
            "--out",
            str(path),
            *extra,
        ]
    )
    assert code == 0
    assert out.count("\n") == 1
    assert out.startswith(f"wrote {path}")
    return path


def _packets(path: Path) -> list[tuple[float, str, bytes]]:
    with open_recording(path) as reader:
        return [(p.t_host_s, p.char_uuid, p.data) for p in reader.iter_packets()]


# -- list --------------------------------------------------------------------------------------------------------


def test_list_text_shows_every_scenario_and_device(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(["list"])
    assert code == 0
    lines = out.splitlines()
    for name in list_scenarios():
        assert any(line.split()[:1] == [name] for line in lines), name
    for family in FAMILIES:
        assert any(line.split()[:1] == [family] for line in lines), family
    slouchy = next(line for line in lines if line.split()[:1] == [SCENARIO])
    assert slouchy.split()[1:5] == ["45", "min", "3", "0"]
    workday = next(line for line in lines if line.split()[:1] == ["workday_8h"])
    assert workday.split()[1:5] == ["8", "h", "5-20", "6-14"]
    assert capsys.readouterr().err == ""


def test_list_json() -> None:
    code, out = _run(["list", "--json"])
    assert code == 0
    data = json.loads(out)
    scenarios = {s["name"]: s for s in data["scenarios"]}
    assert sorted(scenarios) == list_scenarios()
    assert scenarios[SCENARIO]["alert_episodes"] == [3, 3]
    assert scenarios[SCENARIO]["breaks"] == [0, 0]
    assert scenarios[SCENARIO]["duration_s"] == 2700.0
    assert scenarios["good_day"]["should_produce"].startswith("no posture alerts, 2 breaks")
    devices = {d["family_id"]: d for d in data["devices"]}
    assert list(devices) == list(FAMILIES)
    assert devices["thingy52"]["display_name"] == "Nordic Thingy:52"
    assert devices["posturebuddy"]["default_rate_hz"] == 50.0
    assert devices["sensortag"]["rates_hz"][-1] == 10.0


# -- record ------------------------------------------------------------------------------------------------------


def _expected_packets(device: str, rate_hz: float) -> int:
    """Samples x notifications per sample, plus the link's reads and polls (all in range for 30 s)."""
    family = get_family(device)
    samples = round(rate_hz * DURATION_S)
    count = samples * len(family.notify_uuids)
    if family.poll_period_s > 0:
        polls = math.ceil(DURATION_S / family.poll_period_s - 1e-9)
        count += polls * len(family.poll_commands())
    count += family.battery_uuid is not None
    count += family.info_uuid is not None
    return count


def _check_decoded(device: str, reader: RecordingReader, rec: SimulatedRecording) -> int:
    """Decode every packet with the family's decoder; spot-check samples against the simulator's truth."""
    decoder = get_family(device).make_decoder()
    samples: list[Sample] = []
    for packet in reader.iter_packets():
        samples.extend(item for item in decoder.decode(packet) if isinstance(item, Sample))
    epoch = float(rec.t_true_s[0])
    checked = 0
    for sample in samples[:: max(1, len(samples) // 25)]:
        index = round((sample.t_s - epoch) * rec.rate_hz)
        if sample.quat_wxyz is not None:
            truth = rec.quat_wxyz[index]
            got = np.asarray(sample.quat_wxyz)
            assert min(np.abs(got - truth).max(), np.abs(got + truth).max()) < 2e-3, (device, index)
            checked += 1
        elif sample.accel_g is not None:
            assert np.allclose(sample.accel_g, rec.accel_g[index], atol=2e-3), (device, index)
            checked += 1
    assert checked >= 10
    return len(samples)


@pytest.mark.parametrize("device", FAMILIES)
def test_record_each_family(tmp_path: Path, device: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = _record(tmp_path, device)
    rec = simulate_for(SCENARIO, device, duration_s=DURATION_S)
    with open_recording(path) as reader:
        meta = reader.metadata
        assert meta.tag_family == device
        assert str(meta.source_kind) == "simulated"
        assert meta.sample_rate_hz == rec.rate_hz
        assert meta.tag_name
        assert meta.tag_address
        assert meta.extra["scenario"] == SCENARIO
        assert meta.extra["seed"] == rec.seed
        assert meta.extra["device"] == device
        assert reader.packet_count() == _expected_packets(device, rec.rate_hz)
        first, last = reader.time_range() or (0.0, 0.0)
        assert first == pytest.approx(float(rec.t_true_s[0]))
        assert last < float(rec.t_true_s[0]) + DURATION_S
        _check_decoded(device, reader, rec)
        _check_truth(reader, rec)
    assert capsys.readouterr().err == ""  # no progress bar unless asked (stderr is not a terminal here)


def _check_truth(reader: RecordingReader, rec: SimulatedRecording) -> None:
    """Posture and activity runs expand back to simulate()'s per-sample labels; lists match its truth."""
    truth = rec.truth
    for kind, labels in ((TruthKind.POSTURE, truth.posture_labels()), (TruthKind.ACTIVITY, truth.activity_labels())):
        segments = reader.truth_segments(kind)
        expanded: list[str] = []
        for segment in segments:
            count = segment.data["samples"]
            assert isinstance(count, int)
            expanded.extend([segment.label] * count)
        assert expanded == labels.tolist()
        assert segments[0].start_s == pytest.approx(float(rec.t_true_s[0]))
        for before, after in itertools.pairwise(segments):
            assert before.end_s == after.start_s
    to_host = host_clock(rec)
    alerts = reader.truth_segments(TruthKind.ALERT)
    assert [(a.label, a.start_s) for a in alerts] == [(e.posture, to_host(e.start_s)) for e in truth.alert_episodes]
    assert len(reader.truth_segments(TruthKind.BREAK)) == len(truth.breaks)
    assert [s.label for s in reader.truth_segments(BEHAVIOUR_KIND)] == [s.kind for s in truth.segments]


def test_record_full_scenario_truth_matches_its_expectations(tmp_path: Path) -> None:
    """The whole slouchy afternoon (SensorTag, 10 Hz): three slouch alerts and no breaks, as [expect] says."""
    path = tmp_path / "slouchy.pbrec"
    code, _ = _run(["record", "--scenario", SCENARIO, "--device", "sensortag", "--out", str(path)])
    assert code == 0
    rec = simulate_for(SCENARIO, "sensortag")
    with open_recording(path) as reader:
        alerts = reader.truth_segments(TruthKind.ALERT)
        assert [a.label for a in alerts] == ["slouch"] * 3
        assert all(a.end_s - a.start_s >= 60.0 for a in alerts)
        assert reader.truth_segments(TruthKind.BREAK) == []
        assert reader.metadata.extra["truth"] == {"alert_episodes": 3, "breaks": 0, "clock": "t_host_s"}
        assert reader.packet_count() == rec.n  # one notification per row (the SensorTag family reads no battery)
        _check_truth(reader, rec)


def test_record_breaks_and_out_of_range(tmp_path: Path) -> None:
    """stands_and_walks: three breaks (stand-up, walk start, sit-down) and a walk out of range, with no packets."""
    path = tmp_path / "walks.pbrec"
    code, _ = _run(["record", "--scenario", "stands_and_walks", "--device", "sensortag", "--out", str(path)])
    assert code == 0
    with open_recording(path) as reader:
        breaks = reader.truth_segments(TruthKind.BREAK)
        assert len(breaks) == 3
        assert [b.label for b in breaks].count("walk") == 2
        for b in breaks:
            assert b.data["stand_s"] == b.start_s
            assert b.data["sit_s"] == b.end_s
        gaps = reader.truth_segments(TruthKind.LINK)
        assert gaps
        assert all(g.label == "out_of_range" for g in gaps)
        for gap in gaps:
            assert list(reader.iter_packets(gap.start_s + 0.05, gap.end_s - 0.15)) == []


def test_record_is_deterministic(tmp_path: Path) -> None:
    first = _record(tmp_path, "witmotion", name="a.pbrec")
    second = _record(tmp_path, "witmotion", name="b.pbrec")
    other_seed = _record(tmp_path, "witmotion", "--seed", "99", name="c.pbrec")
    assert _packets(first) == _packets(second)
    assert _packets(first) != _packets(other_seed)
    with open_recording(first) as a, open_recording(second) as b:
        assert [(s.start_s, s.end_s, s.kind, s.label, s.data) for s in a.truth_segments()] == [
            (s.start_s, s.end_s, s.kind, s.label, s.data) for s in b.truth_segments()
        ]


def test_record_start_moves_the_calendar(tmp_path: Path) -> None:
    path = _record(tmp_path, "microbit", "--start", "2026-03-02T08:30:00Z")
    with open_recording(path) as reader:
        first, _ = reader.time_range() or (0.0, 0.0)
        assert first == parse_start("2026-03-02T08:30:00+00:00")
        assert reader.metadata.extra["start_utc"] == "2026-03-02T08:30:00+00:00"
        assert reader.truth_segments(TruthKind.POSTURE)[0].start_s == first


def test_record_pbtag_frames_count_every_sample(tmp_path: Path) -> None:
    """PostureBuddy Tag frames: seq 0, 1, 2..., time_ms from the tag clock, STREAM_START on the first only."""
    path = _record(tmp_path, "posturebuddy")
    with open_recording(path) as reader:
        frames = [decode_motion(p.data) for p in reader.iter_packets() if p.char_uuid == MOTION_CHAR_UUID]
    assert [f.seq for f in frames] == list(range(len(frames)))
    assert [f.device_time_ms for f in frames[:3]] == [0, 20, 40]
    starts = [f for f in frames if StatusFlags.STREAM_START in f.status]
    assert starts == [frames[0]]


def test_record_progress_bar_only_when_asked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _record(tmp_path, "microbit", name="quiet.pbrec")
    assert capsys.readouterr().err == ""
    _record(tmp_path, "microbit", "--progress", name="bar.pbrec")
    assert "recording" in capsys.readouterr().err


@pytest.mark.asyncio
@pytest.mark.parametrize("device", ["thingy52", "witmotion"])
async def test_recorded_frames_equal_what_the_live_tag_sends(tmp_path: Path, device: str) -> None:
    """The live virtual tag on a virtual air, subscribed by a central, sends for each recording row exactly the
    bytes ``record`` wrote for that row (both go through ``take_sample``; this guards the offline mode)."""
    path = tmp_path / "offline.pbrec"
    await asyncio.to_thread(
        main, ["record", "--scenario", SCENARIO, "--device", device, "--duration", "20", "--out", str(path)]
    )
    rec = simulate_for(SCENARIO, device, duration_s=20.0)
    family = get_family(device)
    with open_recording(path) as reader:
        by_uuid: dict[str, list[bytes]] = {}
        for packet in reader.iter_packets():
            if packet.char_uuid in family.notify_uuids and not packet.data.startswith(b"\x55\x71"):
                by_uuid.setdefault(packet.char_uuid, []).append(packet.data)
    tag = make_virtual_tag(device, rec, speed=20.0)
    async with VirtualAir() as air:
        central = await air.add_central()
        await air.add_peripheral(tag)
        connection = await central.device.connect(hci.Address(tag.address or ""))
        peer = Peer(connection)
        await peer.discover_services()
        await peer.discover_characteristics()
        for uuid in family.notify_uuids:
            (characteristic,) = peer.get_characteristics_by_uuid(UUID(uuid))
            await peer.subscribe(characteristic, lambda _value: None)
        for write in [*family.start_commands(), *family.rate_commands(rec.rate_hz)]:
            (characteristic,) = peer.get_characteristics_by_uuid(UUID(write.char_uuid))
            await peer.write_value(characteristic, write.data, with_response=write.response)
        await _wait_for(lambda: len(tag.sent) >= 40)
    compared = 0
    for sent in list(tag.sent):
        if sent.frame.startswith(b"\x55\x71"):
            continue  # a register reply: depends on when the host asks
        assert by_uuid[sent.char_uuid][sent.index] == sent.frame, (sent.char_uuid, sent.index)
        compared += 1
    assert compared >= 40


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--scenario", "nope", "--device", "posturebuddy"], "unknown scenario 'nope'; known: fidgety_upright"),
        (["--scenario", SCENARIO, "--device", "fitbit"], "unknown device 'fitbit'; known: posturebuddy, thingy52"),
        (["--scenario", SCENARIO, "--device", "posturebuddy", "--rate", "-5"], "--rate must be a positive number"),
        (["--scenario", SCENARIO, "--device", "posturebuddy", "--start", "yesterday"], "--start must be an ISO 8601"),
    ],
)
def test_record_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], needle: str) -> None:
    code, out = _run(["record", *argv, "--out", str(tmp_path / "x.pbrec")])
    err = capsys.readouterr().err
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert needle in err
    assert not (tmp_path / "x.pbrec").exists()


def test_record_never_overwrites(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "exists.pbrec"
    path.write_bytes(b"keep me")
    code, _ = _run(["record", "--scenario", SCENARIO, "--device", "microbit", "--out", str(path)])
    assert code == 1
    assert "already exists" in capsys.readouterr().err
    assert path.read_bytes() == b"keep me"


# -- serve -------------------------------------------------------------------------------------------------------


def test_serve_without_usb_dongle_says_how_to_fix_it(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(["serve", "--scenario", SCENARIO, "--device", "posturebuddy", "--transport", "usb:0"])
    err = capsys.readouterr().err
    assert code == 1
    assert "Traceback" not in err
    assert "Traceback" not in out
    assert err.count("\n") == 1
    assert "no USB Bluetooth dongle found for 'usb:0'" in err
    assert "sudo hciconfig hci0 down" in err


def test_serve_bad_transport_device_and_address(capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = _run(["serve", "--scenario", SCENARIO, "--device", "posturebuddy", "--transport", "bogus:1"])
    assert code == 1
    assert "unknown transport 'bogus:1'" in capsys.readouterr().err
    code, _ = _run(["serve", "--scenario", SCENARIO, "--device", "nope", "--transport", "usb:0"])
    assert code == 2
    assert "unknown device 'nope'" in capsys.readouterr().err
    base = ["serve", "--scenario", SCENARIO, "--device", "posturebuddy", "--transport", "usb:0"]
    code, _ = _run([*base, "--address", "01:02:03:04:05:06"])
    assert code == 2
    assert "not a static random address" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def _serving(options: ServeOptions, lines: list[str]) -> Any:
    stop = asyncio.Event()
    ready: asyncio.Future[Served] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve(options, stop=stop, out=lines.append, on_ready=ready.set_result))
    try:
        yield await asyncio.wait_for(asyncio.shield(ready), 20)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def _app(port: int, address: str) -> tuple[Transport, Device, Advertisement]:
    """A central in "another process": a bumble host on tcp-client that scans until it sees a PB-Tag."""
    transport = await open_transport(f"tcp-client:127.0.0.1:{port}")
    device = Device.with_hci("app", hci.Address(address), transport.source, transport.sink)
    await device.power_on()
    found: asyncio.Future[Advertisement] = asyncio.get_running_loop().create_future()

    def on_advertisement(advertisement: Advertisement) -> None:
        name = advertisement.data.get(0x08)  # shortened local name, SPEC section 9
        if not found.done() and name == "PB-Tag":
            found.set_result(advertisement)

    device.on("advertisement", on_advertisement)
    await device.start_scanning()
    advertisement = await asyncio.wait_for(found, 5)
    await device.stop_scanning()
    return transport, device, advertisement


async def _wait_for(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():  # noqa: ASYNC110 - the conditions are bumble and tag state, no event to await
            await asyncio.sleep(0.05)


@pytest.mark.asyncio
async def test_serve_tcp_server_app_connects_and_watchdog_frees_a_killed_app() -> None:
    port = _free_port()
    lines: list[str] = []
    options = ServeOptions("good_day", "posturebuddy", f"tcp-server:_:{port}", speed=5.0, duration_s=60.0)
    async with _serving(options, lines) as served:
        assert served.for_app
        transport, app, advertisement = await _app(port, "C0:00:00:00:00:01")
        connection = await app.connect(advertisement.address)
        await _wait_for(lambda: served.tag.is_connected)
        peer = Peer(connection)
        await peer.discover_services()
        await peer.discover_characteristics()
        (motion,) = peer.get_characteristics_by_uuid(UUID(MOTION_CHAR_UUID))
        received: list[bytes] = []
        await peer.subscribe(motion, lambda value: received.append(bytes(value)))
        await _wait_for(lambda: len(received) >= 10)
        frames = [decode_motion(data) for data in received]
        assert [f.seq for f in frames] == list(range(frames[0].seq, frames[0].seq + len(frames)))

        await close_transport(transport)  # the app dies without disconnecting
        await _wait_for(lambda: not served.tag.is_connected and served.tag.is_advertising)
        assert served.watchdog_drops == 1

        transport2, app2, advertisement2 = await _app(port, "C0:00:00:00:00:02")
        await app2.connect(advertisement2.address)
        await _wait_for(lambda: served.tag.is_connected)
        await close_transport(transport2)
    text = "\n".join(lines)
    assert "is advertising on tcp-server" in text
    assert f"tcp-client:127.0.0.1:{port}" in text
    assert "watchdog: the app's socket closed" in text
    assert lines[-1].startswith("stopping:")
