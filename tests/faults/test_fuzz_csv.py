"""Fuzzing the CSV reader (posturebuddy/session/csv_input.py) and ``posturebuddy analyze FILE.csv`` with hypothesis.

Whatever the file holds, the reader gives data (finite, increasing times; one row of values per time) or one
``CsvInputError`` line; ``analyze`` gives a result or one clear line, never a traceback. The CSVs are built from
the headers the reader knows (so the fuzzing gets past header detection) with hostile cells, delimiters, quotes,
line endings and cuts, plus plain random text and bytes. Reproduce a failure with the printed
``--hypothesis-seed`` or ``@reproduce_failure`` blob (fuzz_support.py).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fuzz_support import EXAMPLES, FUZZ
from hypothesis import given, note, settings
from hypothesis import strategies as st

from posturebuddy.cli import main
from posturebuddy.session.csv_input import CsvInputError, CsvOptions, looks_like_csv, read_imu_csv

HEADERS = [
    ["t", "ax", "ay", "az"],
    ["time_ms", "ax", "ay", "az", "gx", "gy", "gz"],
    ["Time (s)", *(f"Gyroscope {a} (deg/s)" for a in "XYZ"), *(f"Accelerometer {a} (g)" for a in "XYZ")],
    ["t_s", "acc_x_mps2", "acc_y_mps2", "acc_z_mps2", "gyr_x_radps", "gyr_y_radps", "gyr_z_radps"],
    ["timestamp", "accel_x", "accel_y", "accel_z", "gyro_x_dps", "gyro_y_dps", "gyro_z_dps"],
    ["x", "y", "z"],
]
CELLS = st.one_of(
    st.integers(-(10**6), 10**6).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", " ", "nan", "-inf", "1e400", "0x10", "1_000", "١٢", '"1"', '"', '""', "1,5", "a", "\x00"]),
    st.text(max_size=6),
)


@st.composite
def csv_text(draw: st.DrawFn) -> str:
    header = list(draw(st.sampled_from(HEADERS)))
    if draw(st.integers(0, 5)) == 0:
        header.insert(draw(st.integers(0, len(header))), draw(st.text(max_size=8)))
    delimiter = draw(st.sampled_from([",", ",", ";", "\t"]))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    rows = []
    t = draw(st.floats(-10, 10))
    for _ in range(draw(st.integers(0, 25))):
        t += draw(st.sampled_from([0.02, 0.02, 0.02, 0.0, -0.01, 5.0]))
        cells = [repr(t)] + [draw(st.sampled_from(["0", "0.01", "-1", "1", "9.81"])) for _ in header[1:]]
        for _ in range(draw(st.integers(0, 2))):  # a hostile cell or two
            cells[draw(st.integers(0, len(cells) - 1))] = draw(CELLS)
        if draw(st.integers(0, 9)) == 0:
            cells = cells[: draw(st.integers(0, len(cells)))]
        rows.append(delimiter.join(cells))
    text = newline.join([delimiter.join(header), *rows]) + draw(st.sampled_from(["", newline]))
    if draw(st.booleans()):
        text = text[: draw(st.integers(0, len(text)))]
    return ("\ufeff" if draw(st.integers(0, 9)) == 0 else "") + text


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as directory:
        yield Path(directory)


def check_read(path: Path, options: CsvOptions | None = None) -> None:
    try:
        data = read_imu_csv(path, options)
    except CsvInputError as exc:
        message = str(exc)
        assert message.strip()
        assert "\n" not in message, message
        return
    arrays = data.arrays
    assert data.rows == len(arrays.t_s) >= 1
    assert np.all(np.isfinite(arrays.t_s))
    assert np.all(np.diff(arrays.t_s) > 0)
    assert arrays.accel_g is not None
    assert arrays.accel_g.shape == (data.rows, 3)


@FUZZ
@given(text=csv_text())
def test_a_csv_built_from_known_headers_reads_or_raises_one_line(scratch: Path, text: str) -> None:
    path = scratch / "imu.csv"
    path.write_text(text, encoding="utf-8", newline="")
    note(repr(text))
    check_read(path)


@FUZZ
@given(text=st.text(max_size=400), rate=st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)))
def test_random_text_reads_or_raises_one_line(scratch: Path, text: str, rate: float | None) -> None:
    path = scratch / "imu.csv"
    path.write_text(text, encoding="utf-8", newline="")
    check_read(path, CsvOptions(rate_hz=rate) if rate is not None else None)


@FUZZ
@given(data=st.binary(max_size=300))
def test_random_bytes_read_or_raise_one_line(scratch: Path, data: bytes) -> None:
    path = scratch / "imu.csv"
    path.write_bytes(data)
    looks_like_csv(path)
    check_read(path)


@pytest.mark.parametrize("where", ["header", "row"])
def test_a_cell_longer_than_the_csv_module_allows_is_a_one_line_error(scratch: Path, where: str) -> None:
    """Python's csv module refuses fields over 128 KiB with its own csv.Error (found by this suite)."""
    path = scratch / "imu.csv"
    long = "1" * 200_000
    header = f"t,ax,ay,{long}" if where == "header" else "t,ax,ay,az"
    path.write_text(f"{header}\n0,{long},0,1\n0.02,0,0,1\n", encoding="utf-8")
    with pytest.raises(CsvInputError, match="field larger than field limit"):
        read_imu_csv(path)


@settings(FUZZ, max_examples=max(10, EXAMPLES // 4))
@given(text=csv_text())
def test_analyze_of_a_hostile_csv_gives_a_result_or_one_clear_line(
    scratch: Path, text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = scratch / "imu.csv"
    path.write_text(text, encoding="utf-8", newline="")
    capsys.readouterr()
    status = main(["analyze", str(path), "--json"])
    out, err = capsys.readouterr()
    note(repr(text))
    assert status in (0, 1, 2), err
    if status:
        assert len(err.strip().splitlines()) == 1, err
    else:
        assert out.strip()
