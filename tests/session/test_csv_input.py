"""CSV input: header detection on real files, units, and one-line errors naming the row and column."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from posturebuddy.cli import main
from posturebuddy.session.csv_input import CsvInputError, CsvOptions, looks_like_csv, parse_columns, read_imu_csv

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"  # ../shared/data beside the repository
XIO = DATA / "xio_fusion_example" / "sensor_data.csv"
BROAD = sorted((DATA / "broad").glob("*.csv")) if (DATA / "broad").is_dir() else []


@pytest.mark.skipif(not XIO.exists(), reason=f"x-io example data not found at {XIO}")
def test_xio_example_headers_are_recognised() -> None:
    data = read_imu_csv(XIO)
    assert data.rows == 13_514
    assert data.columns["time"] == "Time (s)"
    assert data.columns["accel"].endswith("(g)")
    assert data.columns["gyro"].endswith("(deg/s)")
    assert not data.warnings
    a = data.arrays.accel_g
    assert np.linalg.norm(a[0]) == pytest.approx(1.0, abs=0.02)
    assert np.all(np.diff(data.arrays.t_s) > 0)


@pytest.mark.skipif(not BROAD, reason=f"BROAD data not found in {DATA / 'broad'}")
@pytest.mark.parametrize("path", BROAD, ids=[p.stem for p in BROAD])
def test_broad_units_are_converted(path: Path) -> None:
    data = read_imu_csv(path)
    assert data.columns["accel"].endswith("(m/s^2)")
    assert data.columns["gyro"].endswith("(rad/s)")
    norm = np.linalg.norm(data.arrays.accel_g[:50], axis=1)
    assert np.median(norm) == pytest.approx(1.0, abs=0.03)  # 9.81 m/s^2 -> 1 g
    raw = np.loadtxt(path, delimiter=",", skiprows=1, max_rows=3, usecols=(4,))
    assert data.arrays.gyro_dps[:3, 0] == pytest.approx(np.degrees(raw))


@pytest.mark.skipif(not XIO.exists(), reason=f"x-io example data not found at {XIO}")
def test_analyze_a_csv_from_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", str(XIO), "--calibrate", "0:5"]) == 0
    out = capsys.readouterr().out
    assert "--calibrate span" in out
    assert "columns: time Time (s)" in out


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "imu.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_rate_raw_counts_and_named_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "x,y,z\n0,4096,0\n0,4096,0\n0,4096,0\n")
    opts = CsvOptions(rate_hz=50.0, accel_cols=("x", "y", "z"), accel_unit="raw", accel_scale=4096.0)
    data = read_imu_csv(path, opts)
    assert data.arrays.t_s.tolist() == [0.0, 0.02, 0.04]
    assert data.arrays.accel_g[0].tolist() == [0.0, 1.0, 0.0]
    assert math.isnan(data.arrays.gyro_dps[0, 0])


def test_milliseconds_and_generic_names(tmp_path: Path) -> None:
    path = write(tmp_path, "time_ms,ax,ay,az,gx,gy,gz\n0,0,0,1,1,2,3\n20,0,0,1,1,2,3\n")
    data = read_imu_csv(path)
    assert data.arrays.t_s.tolist() == [0.0, 0.02]
    assert any("assumed g" in w for w in data.warnings)
    assert data.arrays.gyro_dps[1].tolist() == [1.0, 2.0, 3.0]


def test_truncated_last_line_is_dropped_with_a_warning(tmp_path: Path) -> None:
    path = write(tmp_path, "t,ax,ay,az\n0,0,0,1\n0.02,0,0,1\n0.04,0,0")
    data = read_imu_csv(path)
    assert data.rows == 2
    assert any("cut short" in w for w in data.warnings)


@pytest.mark.parametrize(
    ("text", "opts", "words"),
    [
        (
            "t,ax,ay,az\n0,0,0,1\n0.02,0,zero,1\n0.04,0,0,1\n",
            CsvOptions(),
            "row 3, column 'ay': 'zero' is not a number",
        ),
        ("t,ax,ay,az\n0,0,0,1\n0,0,0,1\n", CsvOptions(), "row 3, column 't': time 0 s does not increase"),
        ("t,ax,ay,az\n0,0,0,1\n", CsvOptions(accel_cols=("ax", "ay", "acc_z")), "no column 'acc_z'"),
        ("t,p,q\n0,0,0\n", CsvOptions(), "no accelerometer columns found"),
        ("ax,ay,az\n0,0,1\n", CsvOptions(), "no time column found"),
        ("t,ax,ay,az\n", CsvOptions(), "no data rows"),
        ("t,ax,ay,az\n0,0,0,1\n", CsvOptions(accel_unit="raw"), "needs --accel-scale"),
    ],
)
def test_bad_input_is_one_line_naming_row_and_column(tmp_path: Path, text: str, opts: CsvOptions, words: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(CsvInputError) as info:
        read_imu_csv(path, opts)
    message = str(info.value)
    assert words in message
    assert "\n" not in message


def test_helpers(tmp_path: Path) -> None:
    assert parse_columns(" a, b ,c", "--accel-cols") == ("a", "b", "c")
    with pytest.raises(CsvInputError):
        parse_columns("a,b", "--accel-cols")
    assert looks_like_csv(write(tmp_path, "a,b\n1,2\n"))
    binary = tmp_path / "b.bin"
    binary.write_bytes(b"\x00\xff\xfe")
    assert not looks_like_csv(binary)
