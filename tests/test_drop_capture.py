"""The drop capture: its file (header, rows, end marker) and the board's dump on the wire
(firmware/drop.py's HEAD / DATA / END frames), and what each refuses with one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from softland.drop.capture import DropCapture, read_capture, unwrap_ticks, write_capture
from softland.drop.emulate import DropRig, emulated_capture
from softland.drop.firmware import drop_module
from softland.drop.wire import capture_from_bytes
from softland.errors import UserError


@pytest.fixture(scope="module")
def capture() -> DropCapture:
    return emulated_capture(DropRig(samples=200), seed=3)


def test_file_round_trip_keeps_every_sample_and_the_header(
    capture: DropCapture, tmp_path: Path
) -> None:
    path = tmp_path / "drop.csv"
    write_capture(path, capture)
    back = read_capture(path)
    for name in ("t_us", "dt_us", "distance_cm", "status", "flags"):
        assert np.array_equal(getattr(back, name), getattr(capture, name)), name
    assert (back.variant, back.source, back.release_us) == (
        capture.variant,
        capture.source,
        capture.release_us,
    )
    assert back.extra["truth_g"] == capture.extra["truth_g"]


def test_file_header_names_sensor_variant_rate_and_units(
    capture: DropCapture, tmp_path: Path
) -> None:
    path = tmp_path / "drop.csv"
    write_capture(path, capture)
    head = path.read_text().splitlines()[:20]
    assert "# sensor: lidarlite" in head and "# variant: v3" in head
    assert any(line.startswith("# rate_hz: 25") for line in head)
    assert any(line.startswith("# units: t_us=us") for line in head)


def test_a_truncated_file_is_refused_naming_the_counts(
    capture: DropCapture, tmp_path: Path
) -> None:
    path = tmp_path / "drop.csv"
    write_capture(path, capture)
    text = path.read_text()
    path.write_text(text[: len(text) // 2])  # cut mid-row, no end marker
    with pytest.raises(UserError, match=r"truncated capture: the header says 200 samples, \d+"):
        read_capture(path)


def test_a_missing_file_and_a_foreign_file_each_give_one_line(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        read_capture(tmp_path / "nope.csv")
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(UserError, match="not a softland drop capture"):
        read_capture(tmp_path / "other.csv")


def test_a_malformed_row_is_refused_with_its_line_number(
    capture: DropCapture, tmp_path: Path
) -> None:
    path = tmp_path / "drop.csv"
    write_capture(path, capture)
    lines = path.read_text().splitlines()
    k = lines.index("t_us,dt_us,distance_cm,status,flags") + 5
    lines[k] = "12,x,3,4,5"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(UserError, match=f":{k + 1}: malformed sample row"):
        read_capture(path)


def test_ticks_unwrap_across_the_2_30_wrap() -> None:
    ticks = np.array([(1 << 30) - 3000, (1 << 30) - 1000, 1000, 5000])
    assert list(unwrap_ticks(ticks)) == [0, 2000, 4000, 8000]


def test_emulated_capture_crosses_the_tick_wrap_and_stays_monotonic(
    capture: DropCapture,
) -> None:
    assert np.all(np.diff(capture.t_us) > 0)
    assert capture.t_us[-1] > 500_000  # started 0.5 s before the wrap


def _dump(samples: int = 30) -> bytes:
    from softland.devices.lidarlite import EmulatedI2C, LidarLiteEmulator, MachineI2C, VirtualClock

    clock = VirtualClock()
    bus = EmulatedI2C(
        clock, [LidarLiteEmulator(clock, np.random.default_rng(0))], frequency=400_000
    )
    s = drop_module().DropSampler(MachineI2C(bus), lambda: clock.now_us, samples)
    s.probe()
    s.run()
    out = bytearray()
    s.dump(out.extend)
    return bytes(out)


def test_wire_dump_decodes_whatever_surrounds_it() -> None:
    cap = capture_from_bytes(b"OK noise\r\n" + _dump() + b"\x04\x04>", "test")
    assert cap.samples == 30 and cap.variant == "v3"
    assert np.all(np.abs(cap.distance_cm - 200) < 10)


def test_wire_dump_with_a_lost_frame_names_the_missing_samples() -> None:
    data = bytearray(_dump())
    first_data = data.index(b"\xa5\x5a", 5)  # the second frame: the first DATA frame
    data[first_data + 20] ^= 0xFF  # corrupt it: its CRC fails
    with pytest.raises(UserError, match=r"11 of 30 samples lost on the wire \(first missing: 0\)"):
        capture_from_bytes(bytes(data), "test")


def test_wire_dump_without_its_end_frame_is_incomplete() -> None:
    data = _dump()
    cut = data.rindex(b"\xa5\x5a")
    with pytest.raises(UserError, match="incomplete"):
        capture_from_bytes(data[:cut], "test")
