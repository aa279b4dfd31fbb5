"""``posturebuddy scan``: list the supported tags nearby (family, name, address, signal)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import TextIO

from rich.console import Console
from rich.table import Table

from posturebuddy.config import Settings
from posturebuddy.link.errors import explain
from posturebuddy.link.scan import BleBackend, FoundDevice, scan


def render(found: list[FoundDevice], out: TextIO, *, as_json: bool, pinned: str = "") -> None:
    """Print scan results as a table (or JSON)."""
    if as_json:
        rows = [
            {
                "family": f.info.family or None,
                "family_name": f.family.display_name if f.family else None,
                "name": f.info.name,
                "address": f.info.address,
                "rssi_dbm": f.info.rssi_dbm,
                "configured": bool(pinned) and f.info.address.upper() == pinned.upper(),
            }
            for f in found
        ]
        out.write(json.dumps(rows, indent=2) + "\n")
        return
    console = Console(file=out, highlight=False)
    if not found:
        console.print(
            "No supported tag found. Make sure your tag is switched on, charged, nearby and not connected to "
            "another app (a phone), then scan again; 'posturebuddy scan --all' lists every device seen."
        )
        return
    table = Table(title="Bluetooth devices nearby", title_justify="left")
    for column in ("tag", "name", "address", "signal"):
        table.add_column(column)
    for f in found:
        mark = " (configured)" if pinned and f.info.address.upper() == pinned.upper() else ""
        signal = f"{f.info.rssi_dbm} dBm" if f.info.rssi_dbm is not None else "?"
        table.add_row(
            (f.family.display_name if f.family else "not supported") + mark, f.info.name, f.info.address, signal
        )
    console.print(table)
    if any(f.family for f in found) and not pinned:
        console.print('To use one tag only, put its address in the config: [tag] address = "..."')


async def scan_and_render(
    timeout_s: float, backend: BleBackend, out: TextIO, *, as_json: bool, include_all: bool, pinned: str = ""
) -> int:
    """Scan and print; returns the exit status (1 with a one-sentence reason if Bluetooth is unusable)."""
    try:
        found = await scan(timeout_s, backend, include_unsupported=include_all)
    except Exception as exc:  # noqa: BLE001 (platform errors vary; explain() maps each to advice)
        print(f"posturebuddy scan: {explain(exc)}", file=sys.stderr)
        return 1
    render(found, out, as_json=as_json, pinned=pinned)
    return 0


def scan_command(args: argparse.Namespace, settings: Settings) -> int:
    """Entry point for ``posturebuddy scan``."""
    return asyncio.run(
        scan_and_render(
            args.timeout,
            BleBackend(),
            sys.stdout,
            as_json=args.json,
            include_all=args.all,
            pinned=settings.tag.address,
        )
    )
