"""A real BLE stack in user space for the simulator.

- :mod:`simulators.ble.stack`: the virtual air (a bumble ``LocalLink``), centrals, peripheral devices and
  real transports.
- :mod:`simulators.ble.backend`: a bleak backend (``BumbleScanner`` / ``BumbleClient``) over a bumble central,
  so application code keeps using ``BleakScanner`` / ``BleakClient`` unchanged.
- :mod:`simulators.ble.peripheral`: ``VirtualPeripheral``, a GATT server described as data, with a paced
  notification loop and faults on demand. Family-specific virtual tags subclass it.
- :mod:`simulators.ble.testing`: a small demo peripheral for tests.

Facts, figures and pitfalls behind these choices: ``shared/research/bumble_bleak_backend.md``.
"""

from simulators.ble.backend import (
    BumbleClient,
    BumbleScanner,
    SimBleakClient,
    get_default_central,
    set_default_central,
)
from simulators.ble.peripheral import (
    AttError,
    CharacteristicSpec,
    Packet,
    ServiceSpec,
    VirtualPeripheral,
)
from simulators.ble.stack import Central, VirtualAir, quiet_bumble_logging

__all__ = [
    "AttError",
    "BumbleClient",
    "BumbleScanner",
    "Central",
    "CharacteristicSpec",
    "Packet",
    "ServiceSpec",
    "SimBleakClient",
    "VirtualAir",
    "VirtualPeripheral",
    "get_default_central",
    "quiet_bumble_logging",
    "set_default_central",
]
