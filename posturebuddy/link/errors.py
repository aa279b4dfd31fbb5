"""Friendly failures: one plain sentence, saying what to do, for each way Bluetooth can fail.

bleak reports problems with a mix of typed exceptions and OS errors that differ per platform; this module is
the one place that maps them to advice (so no other code matches on error text).
"""

from __future__ import annotations

import errno

from bleak.exc import (
    BleakBluetoothNotAvailableError,
    BleakBluetoothNotAvailableReason,
    BleakDBusError,
    BleakDeviceNotFoundError,
    BleakError,
)


class LinkError(Exception):
    """A failure the user must act on. ``str(error)`` is one plain sentence saying what to do."""


class TagNotFoundError(LinkError):
    """No supported tag (or not the configured one) was found while scanning."""


class WrongModelError(LinkError):
    """The device at the configured address is not the tag family expected."""


class BluetoothUnavailableError(LinkError):
    """No usable Bluetooth adapter, stack or permission."""


_REASON_ADVICE = {
    BleakBluetoothNotAvailableReason.NO_BLUETOOTH: "No Bluetooth adapter was found: plug in a Bluetooth dongle "
    "or enable Bluetooth in your computer's settings.",
    BleakBluetoothNotAvailableReason.NO_BLE_CENTRAL_ROLE: "This Bluetooth adapter cannot connect to Low Energy "
    "devices: use an adapter that supports Bluetooth 4.0 or newer.",
    BleakBluetoothNotAvailableReason.POWERED_OFF: "Bluetooth is turned off: turn it on (e.g. 'bluetoothctl power "
    "on') and try again.",
    BleakBluetoothNotAvailableReason.DENIED_BY_USER: "Bluetooth access was denied: allow this terminal to use "
    "Bluetooth in your system's privacy settings.",
    BleakBluetoothNotAvailableReason.DENIED_BY_SYSTEM: "The system does not allow this program to use Bluetooth: "
    "check your system's Bluetooth permissions.",
}


def explain(exc: BaseException, *, address: str | None = None) -> str:
    """One sentence telling the user what went wrong and what to do about it."""
    if isinstance(exc, LinkError):
        return str(exc)
    if isinstance(exc, BleakBluetoothNotAvailableError):
        advice = _REASON_ADVICE.get(exc.reason)
        if advice:
            return advice
        return f"Bluetooth is not available ({exc}): check that an adapter is present and turned on."
    if isinstance(exc, BleakDeviceNotFoundError):
        who = f"the tag {address}" if address else "the tag"
        return f"Could not find {who}: make sure it is switched on, charged and within a few metres, then retry."
    if isinstance(exc, BleakDBusError):
        if "AccessDenied" in exc.dbus_error or "NotPermitted" in exc.dbus_error:
            return (
                "Permission denied by BlueZ: add your user to the 'bluetooth' group (sudo usermod -aG bluetooth "
                "$USER) and log in again."
            )
        if "NotReady" in exc.dbus_error:
            return "The Bluetooth adapter is not ready: turn it on with 'bluetoothctl power on' and try again."
        return f"BlueZ reported an error ({exc.dbus_error}): restart Bluetooth ('sudo systemctl restart bluetooth')."
    if isinstance(exc, FileNotFoundError | ConnectionRefusedError):
        # bleak's BlueZ backend cannot reach the system D-Bus socket: BlueZ (or D-Bus) is not running.
        return (
            "Bluetooth service not running: start BlueZ ('sudo systemctl start bluetooth'), or try "
            "'posturebuddy demo' to run without hardware."
        )
    if isinstance(exc, PermissionError) or (isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EPERM)):
        return (
            "Permission denied while using Bluetooth: add your user to the 'bluetooth' group and log in again, "
            "or check the adapter's permissions."
        )
    if isinstance(exc, TimeoutError):
        return "The tag did not answer in time: move it closer, check its battery, and retry."
    if isinstance(exc, BleakError):
        return f"Bluetooth error: {exc}. Switch the tag off and on, and retry."
    return f"Unexpected error: {type(exc).__name__}: {exc}"
