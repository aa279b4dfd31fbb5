"""Each way Bluetooth can fail gets one plain sentence saying what to do."""

from __future__ import annotations

import errno

import pytest
from bleak.exc import (
    BleakBluetoothNotAvailableError,
    BleakBluetoothNotAvailableReason,
    BleakDBusError,
    BleakDeviceNotFoundError,
    BleakError,
)

from posturebuddy.link.errors import WrongModelError, explain


@pytest.mark.parametrize(
    ("exc", "advice"),
    [
        (BleakBluetoothNotAvailableError("x", BleakBluetoothNotAvailableReason.NO_BLUETOOTH), "No Bluetooth adapter"),
        (BleakBluetoothNotAvailableError("x", BleakBluetoothNotAvailableReason.POWERED_OFF), "turned off"),
        (BleakBluetoothNotAvailableError("x", BleakBluetoothNotAvailableReason.DENIED_BY_USER), "access was denied"),
        (BleakDBusError("org.bluez.Error.NotPermitted", []), "'bluetooth' group"),
        (BleakDBusError("org.bluez.Error.NotReady", []), "not ready"),
        (FileNotFoundError(2, "No such file or directory", "/run/dbus/system_bus_socket"), "service not running"),
        (PermissionError(errno.EACCES, "Permission denied"), "Permission denied"),
        (BleakDeviceNotFoundError("AA:BB"), "Could not find the tag AA:BB"),
        (TimeoutError(), "did not answer in time"),
        (WrongModelError("The tag at X is a Thingy, not a micro:bit: fix [tag] family."), "fix [tag] family"),
        (BleakError("something odd"), "Switch the tag off and on"),
    ],
)
def test_explain_gives_one_actionable_sentence(exc: BaseException, advice: str) -> None:
    text = explain(exc, address="AA:BB")
    assert advice in text
    assert "\n" not in text
    assert text.rstrip().endswith((".", ")"))
