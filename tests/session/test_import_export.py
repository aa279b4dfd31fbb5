"""``posturebuddy import`` and ``export``: a CSV of raw IMU data becomes a recording that analyze and replay read,
and a recording's decoded samples and events leave as CSV or Parquet; import -> export -> import is lossless.

BROAD data (``shared/data/broad`` beside the repository, never copied into it) is the real-world input; the
tests skip if it is missing.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from posturebuddy.cli import main
from posturebuddy.devices import DecodeError, get_family, imported
from posturebuddy.model import RawPacket
from posturebuddy.session.analyze import analyze_recording, decode_items
from posturebuddy.session.csv_input import read_imu_csv
from posturebuddy.session.importer import import_csv
from posturebuddy.session.recording import SourceKind, open_recording

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
BROAD_CSV = SHARED_DATA / "broad" / "05_undisturbed_slow_rotation_with_breaks_B.csv"
ROWS = 4000
"""Rows of the BROAD file used (42 s at 95 Hz): enough for every stage, quick to run."""


@pytest.fixture(scope="module")
def broad_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not BROAD_CSV.is_file():
        pytest.skip(f"BROAD data not found at {BROAD_CSV} (shared/data/broad beside the repository)")
    lines = BROAD_CSV.read_text(encoding="utf-8").splitlines()[: ROWS + 1]
    path = tmp_path_factory.mktemp("broad") / "broad05.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def broad_rec(broad_csv: Path) -> Path:
    out = broad_csv.with_name("broad05.pbrec")
    assert main(["import", str(broad_csv), "--out", str(out), "--start", "2026-11-20T09:30:00+00:00"]) == 0
    return out


def decoded(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with open_recording(path) as reader:
        family = get_family(reader.metadata.tag_family)
        arrays = decode_items(reader.iter_packets(), family).arrays
    return arrays.t_s, arrays.accel_g, arrays.gyro_dps


def test_a_broad_csv_imports_and_analyses(broad_csv: Path, broad_rec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with open_recording(broad_rec) as reader:
        meta = reader.metadata
        assert meta.tag_family == "imported"
        assert meta.source_kind == SourceKind.IMPORTED
        assert reader.packet_count() == ROWS
        assert meta.sample_rate_hz == pytest.approx(95.238, rel=1e-3)
        source = meta.extra["import"]
        assert isinstance(source, dict)
        assert source["source"] == "broad05.csv"
        assert len(reader.calibrations()) == 1  # the upright reference analyze and replay judge against
    t, accel, gyro = decoded(broad_rec)
    # The first sample sits at --start; the spacing and the values are the CSV's (m/s^2 -> g, rad/s -> deg/s).
    csv_data = read_imu_csv(broad_csv)
    assert t[0] == pytest.approx(1_795_167_000.0, abs=1e-6)
    assert np.allclose(np.diff(t), np.diff(csv_data.arrays.t_s), atol=1e-6)
    assert np.allclose(accel, csv_data.arrays.accel_g, rtol=1e-6, atol=1e-6)
    assert np.allclose(gyro, csv_data.arrays.gyro_dps, rtol=1e-6, atol=1e-5)
    # analyze and replay take it as they take any recording.
    result = analyze_recording(broad_rec)
    assert result.samples == ROWS
    assert result.reference_source == "recording"
    assert main(["analyze", str(broad_rec), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["samples"] == ROWS
    assert doc["family"] == "imported"
    assert main(["replay", str(broad_rec), "--headless", "--speed", "max"]) == 0
    lines = capsys.readouterr().out.splitlines()
    replayed = [json.loads(line) for line in lines]
    assert sum(1 for item in replayed if item["type"] == "Sample") == ROWS


def test_import_export_import_gives_the_same_samples(broad_rec: Path, tmp_path: Path) -> None:
    out = tmp_path / "round.csv"
    assert main(["export", str(broad_rec), "--csv", str(out)]) == 0
    again = tmp_path / "again.pbrec"
    assert main(["import", str(out), "--out", str(again)]) == 0
    t1, a1, g1 = decoded(broad_rec)
    t2, a2, g2 = decoded(again)
    assert t1.shape == t2.shape == (ROWS,)
    assert np.array_equal(t1, t2)
    assert np.array_equal(a1, a2)
    assert np.array_equal(g1, g2)


def test_export_csv_has_samples_posture_and_events(broad_rec: Path, tmp_path: Path) -> None:
    out = tmp_path / "s.csv"
    assert main(["export", str(broad_rec), "--csv", str(out)]) == 0
    with out.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == ROWS
    assert list(rows[0]) == [
        "t_s",
        *("accel_x_g", "accel_y_g", "accel_z_g", "gyro_x_dps", "gyro_y_dps", "gyro_z_dps"),
        *("flexion_deg", "lateral_deg", "posture", "activity"),
    ]
    assert {r["posture"] for r in rows} <= {"", "upright", "forward_head", "slouch", "leaning_back", "side_lean"} | {
        "moving",
        "away",
    }
    assert any(r["flexion_deg"] for r in rows)
    with (tmp_path / "s.events.csv").open(encoding="utf-8") as fh:
        events = list(csv.DictReader(fh))
    assert [e["kind"] for e in events] == ["calibration"]
    assert json.loads(events[0]["detail_json"])["gravity_up_g"]


def test_parquet_is_readable_by_pyarrow(broad_rec: Path, tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "s.parquet"
    assert main(["export", str(broad_rec), "--parquet", str(out), "--no-posture"]) == 0
    table = pq.read_table(out)
    assert table.num_rows == ROWS
    assert table.column_names[:4] == ["t_s", "accel_x_g", "accel_y_g", "accel_z_g"]
    assert "posture" not in table.column_names
    t, accel, _ = decoded(broad_rec)
    assert np.array_equal(table.column("t_s").to_numpy(), t)
    assert np.array_equal(table.column("accel_z_g").to_numpy(), accel[:, 2])
    events = pq.read_table(tmp_path / "s.events.parquet")
    assert events.column_names == ["t_s", "end_s", "kind", "label", "value", "detail_json"]
    assert events.column("kind").to_pylist() == ["calibration"]


def test_a_wrong_column_is_named_with_the_columns_present(
    broad_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "wrong.pbrec"
    assert main(["import", str(broad_csv), "--out", str(out), "--accel-cols", "ax,ay,az"]) == 1
    err = capsys.readouterr().err
    assert "no column 'ax'" in err
    assert "acc_x_mps2" in err
    assert "gyr_z_radps" in err
    assert not out.exists()
    assert not list(tmp_path.iterdir())  # no partial or temporary file left behind


def test_a_bad_unit_and_a_bad_start_are_usage_errors(broad_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["import", str(broad_csv), "--accel-unit", "furlongs"])
    assert "invalid choice" in capsys.readouterr().err
    assert main(["import", str(broad_csv), "--start", "next tuesday"]) == 2
    assert "2026-11-20T09:30" in capsys.readouterr().err


def test_raw_units_need_a_scale(broad_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import", str(broad_csv), "--out", str(tmp_path / "r.pbrec"), "--accel-unit", "raw"]) == 1
    assert "--accel-scale" in capsys.readouterr().err


def test_an_existing_recording_is_never_overwritten(
    broad_csv: Path, broad_rec: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = broad_rec.read_bytes()
    assert main(["import", str(broad_csv), "--out", str(broad_rec)]) == 1
    assert "already exists" in capsys.readouterr().err
    assert broad_rec.read_bytes() == before


def test_export_refuses_to_overwrite_the_recording_and_needs_an_output(
    broad_rec: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = broad_rec.read_bytes()
    assert main(["export", str(broad_rec), "--csv", str(broad_rec)]) == 2
    assert "would overwrite the recording itself" in capsys.readouterr().err
    assert main(["export", str(broad_rec)]) == 2
    assert "--csv OUT.csv or --parquet OUT.parquet" in capsys.readouterr().err
    assert broad_rec.read_bytes() == before


def test_relative_times_without_start_end_at_the_files_modification_time(tmp_path: Path) -> None:
    path = tmp_path / "phone.csv"
    lines = ["t,ax,ay,az"] + [f"{k / 50:.2f},0,0,1" for k in range(500)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = import_csv(path, tmp_path / "phone.pbrec")
    assert result.end_s == pytest.approx(path.stat().st_mtime, abs=1e-3)
    assert result.samples == 500
    assert any("assumed g" in w for w in result.warnings)
    _, accel, gyro = decoded(result.path)
    assert np.allclose(accel, [0.0, 0.0, 1.0])
    assert np.all(np.isnan(gyro))  # no gyroscope columns: none stored


def test_the_imported_sample_encoding_round_trips_and_rejects_bad_bytes() -> None:
    data = imported.encode_sample(1_700_000_000.123456, (0.1, -0.2, 0.98), (1.5, 0.0, -3.25))
    assert len(data) == 33
    t, accel, gyro = imported.decode_sample(data)
    assert t == 1_700_000_000.123456
    assert accel == pytest.approx((0.1, -0.2, 0.98), rel=1e-7)
    assert gyro == (1.5, 0.0, -3.25)
    assert imported.decode_sample(imported.encode_sample(5.0, (0.0, 0.0, 1.0)))[2] is None
    with pytest.raises(DecodeError, match="need 33 bytes"):
        imported.decode_sample(data[:-1])
    with pytest.raises(DecodeError, match="unknown field flags 0x80"):
        imported.decode_sample(bytes([0x83]) + data[1:])
    with pytest.raises(DecodeError, match="at least 9 bytes"):
        imported.decode_sample(b"\x01")
    with pytest.raises(ValueError, match="finite"):
        imported.encode_sample(1.0, (math.nan, 0.0, 1.0))
    sample = imported.ImportedDecoder().decode(RawPacket(t, imported.SAMPLE_CHAR_UUID, data))[0]
    assert sample.device_time_s == t
