"""The tag picker: scan with the session's BLE backend, pick a tag, remember it in the config.

Remembering writes ``[tag] address = ...`` when that is simple (no config file yet, or one without a ``[tag]``
section); otherwise the screen shows the lines to put in the file. The choice takes effect at the next
``posturebuddy run``: the running session keeps its tag.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DataTable, Footer, Static

from posturebuddy.link.errors import explain
from posturebuddy.link.scan import BleBackend, FoundDevice, scan
from posturebuddy.ui.screens.info import InfoScreen

SCAN_S = 5.0


@dataclass(frozen=True, slots=True)
class Remembered:
    """What remembering a tag did: ``written`` to ``path``, or only ``snippet`` to paste (``reason`` says why)."""

    snippet: str
    path: Path
    written: bool
    reason: str


def tag_snippet(found: FoundDevice) -> str:
    """The config lines that pin ``found``."""
    family = found.family.family_id if found.family else "auto"
    return f'[tag]\naddress = "{found.info.address}"\nfamily = "{family}"\n'


def remember_tag(found: FoundDevice, path: Path) -> Remembered:
    """Write the ``[tag]`` section to ``path`` if simple (see the module docstring)."""
    snippet = tag_snippet(found)
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(snippet, encoding="utf-8")
            return Remembered(snippet, path, written=True, reason="created the config file")
        current = path.read_text(encoding="utf-8")
        if any(line.strip() == "[tag]" for line in current.splitlines()):
            return Remembered(snippet, path, written=False, reason="the config already has a [tag] section")
        sep = "" if current.endswith("\n") or not current else "\n"
        path.write_text(current + sep + "\n" + snippet, encoding="utf-8")
        return Remembered(snippet, path, written=True, reason="added a [tag] section")
    except OSError as exc:
        return Remembered(snippet, path, written=False, reason=f"could not write it ({exc.strerror or exc})")


class TagPickerScreen(InfoScreen):
    """Scan, pick with Enter, remember with w."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "pick", "Pick"),
        Binding("w", "remember", "Write to config"),
        Binding("r", "rescan", "Scan again"),
    ]

    def __init__(self, backend: BleBackend, config_file: Path, *, current: str = "", can_write: bool = True) -> None:
        super().__init__(id="tags")
        self.can_write = can_write
        self.backend = backend
        self.config_file = config_file
        self.current = current
        self.found: list[FoundDevice] = []
        self.picked: FoundDevice | None = None
        self.remembered: Remembered | None = None

    def compose(self) -> ComposeResult:
        """Status line, results, the chosen tag's config lines."""
        with Vertical(id="tags-page", classes="page") as page:
            page.border_title = "Pick your tag"
            yield Static("", id="tags-status")
            table: DataTable[str] = DataTable(id="tags-table", cursor_type="row")
            table.add_columns("name", "model", "address", "signal")
            yield table
            yield Static("", id="tags-choice")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        """Start scanning."""
        self.action_rescan()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Pick needs results; writing needs a pick."""
        if action == "pick":
            return bool(self.found)
        if action == "remember":
            return self.picked is not None
        return True

    def action_rescan(self) -> None:
        """Scan (again)."""
        self.query_one("#tags-status", Static).update(f"Scanning for {SCAN_S:g} s...")
        self._scan()

    @work(exclusive=True, group="tag-scan", exit_on_error=False)
    async def _scan(self) -> None:
        try:
            found = await scan(SCAN_S, self.backend)
        except Exception as exc:  # noqa: BLE001 (any scan failure is one sentence on screen, never a crash)
            self.query_one("#tags-status", Static).update(Text(f"Scan failed: {explain(exc)}", style="bold red"))
            return
        self.show_found(found)

    def show_found(self, found: list[FoundDevice]) -> None:
        """List scan results."""
        self.found = found
        table = self.query_one("#tags-table", DataTable)
        table.clear()
        for f in found:
            model = f.family.display_name if f.family else "?"
            rssi = f"{f.info.rssi_dbm} dBm" if f.info.rssi_dbm is not None else "?"
            mark = " (in use)" if self.current and f.info.address.upper() == self.current.upper() else ""
            table.add_row(f.info.name + mark, model, f.info.address, rssi)
        status = f"{len(found)} supported tag(s) found. Enter picks one." if found else "No supported tag found."
        self.query_one("#tags-status", Static).update(status + " r scans again.")
        self.refresh_bindings()

    def action_pick(self) -> None:
        """Choose the highlighted tag and show its config lines."""
        if not self.found:
            return
        row = self.query_one("#tags-table", DataTable).cursor_row
        self.picked = self.found[min(max(row, 0), len(self.found) - 1)]
        text = Text(f"Put this in {self.config_file} (w writes it):\n\n", style="bold")
        text.append(tag_snippet(self.picked))
        self.query_one("#tags-choice", Static).update(text)
        self.refresh_bindings()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a row (the table has focus): pick it."""
        event.stop()
        self.action_pick()

    def action_remember(self) -> None:
        """Write the choice to the config if simple."""
        if self.picked is None:
            return
        if self.can_write:
            self.remembered = remember_tag(self.picked, self.config_file)
        else:
            reason = "this is the demo's virtual tag, not one to keep in your config"
            self.remembered = Remembered(tag_snippet(self.picked), self.config_file, written=False, reason=reason)
        r = self.remembered
        if r.written:
            text = Text(f"Saved to {r.path} ({r.reason}); used from the next 'posturebuddy run'.", style="bold green")
        else:
            text = Text(f"Not written: {r.reason}. Put these lines in {r.path}:\n\n", style="bold yellow")
            text.append(r.snippet)
        self.query_one("#tags-choice", Static).update(text)
