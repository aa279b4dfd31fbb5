"""Command implementations for the ``posturebuddy`` CLI that belong to no other package.

:mod:`posturebuddy.cli` parses the arguments and imports a command's module only when that command runs, so each
module here may import what it needs without slowing ``posturebuddy --help``.
"""
