"""The import layering of docs/architecture.md (from DESIGN.md), checked two ways.

1. Statically: every ``import`` statement in each package is parsed (ast) and checked against the table
   of what that package may import. This catches imports inside functions too.
2. Dynamically: importing each pure package in a fresh interpreter must not load asyncio, bleak,
   bumble or textual (so a headless command never pays for them).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

FORBIDDEN_EVERYWHERE_BUT_UI = {"textual"}
PURE_FORBIDDEN = {"asyncio", "bleak", "bleak_retry_connector", "bumble", "textual", "sqlite3"}

# package -> first-party modules it must not import (DESIGN.md table, read as "may import only these").
ALLOWED_FIRST_PARTY: dict[str, set[str]] = {
    "posturebuddy.model": {"posturebuddy.model"},
    "posturebuddy.devices": {"posturebuddy.model", "posturebuddy.devices", "firmware_protocol"},
    "posturebuddy.motion": {"posturebuddy.model", "posturebuddy.motion"},
    "posturebuddy.posture": {"posturebuddy.model", "posturebuddy.posture"},
    "posturebuddy.link": {"posturebuddy.model", "posturebuddy.devices", "posturebuddy.link", "firmware_protocol"},
    "firmware_protocol": {"firmware_protocol"},
}
THIRD_PARTY_FORBIDDEN: dict[str, set[str]] = {
    "posturebuddy.model": PURE_FORBIDDEN,
    "posturebuddy.devices": PURE_FORBIDDEN,
    "posturebuddy.motion": PURE_FORBIDDEN,
    "posturebuddy.posture": PURE_FORBIDDEN,
    "firmware_protocol": PURE_FORBIDDEN | {"numpy"},
    "posturebuddy.link": FORBIDDEN_EVERYWHERE_BUT_UI,
    "posturebuddy.session": FORBIDDEN_EVERYWHERE_BUT_UI,
}
FIRST_PARTY_ROOTS = ("posturebuddy", "firmware_protocol", "simulators")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
    return found


def owner_package(module: str) -> str | None:
    candidates = [
        p for p in {*ALLOWED_FIRST_PARTY, *THIRD_PARTY_FORBIDDEN} if module == p or module.startswith(p + ".")
    ]
    return max(candidates, key=len) if candidates else None


def all_sources() -> list[Path]:
    return sorted(p for root in FIRST_PARTY_ROOTS for p in (ROOT / root).rglob("*.py"))


def test_there_is_something_to_check() -> None:
    assert len(all_sources()) > 5


@pytest.mark.parametrize("path", all_sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_follow_the_layering(path: Path) -> None:
    module = module_name(path)
    package = owner_package(module)
    problems: list[str] = []
    for imported in imports_of(path):
        top = imported.split(".")[0]
        if top == "textual" and not module.startswith("posturebuddy.ui"):
            problems.append(f"{module} imports textual; only posturebuddy.ui may")
        if module.startswith("simulators") and imported.startswith("posturebuddy.ui"):
            problems.append(f"{module} imports {imported}; simulators must not import the UI")
        if package is None:
            continue
        if top in THIRD_PARTY_FORBIDDEN.get(package, set()):
            problems.append(f"{module} imports {imported}; {package} must not import {top}")
        allowed = ALLOWED_FIRST_PARTY.get(package)
        if (
            allowed is not None
            and top in FIRST_PARTY_ROOTS
            and (top == "simulators" or not any(imported == a or imported.startswith(a + ".") for a in allowed))
        ):
            problems.append(f"{module} imports {imported}; {package} may import only {sorted(allowed)}")
        if package != "posturebuddy.ui" and imported.startswith("posturebuddy.ui"):
            problems.append(f"{module} imports {imported}; only the CLI may import the UI")
    assert not problems, "\n".join(problems)


PURE_PACKAGES = [
    "posturebuddy",
    "posturebuddy.model",
    "posturebuddy.devices",
    "posturebuddy.config",
    "firmware_protocol",
]


@pytest.mark.parametrize("package", [*PURE_PACKAGES, "posturebuddy.motion", "posturebuddy.posture"])
def test_pure_packages_load_no_heavy_modules(package: str) -> None:
    if not (ROOT / package.replace(".", "/")).exists() and not (ROOT / (package.replace(".", "/") + ".py")).exists():
        pytest.skip(f"{package} does not exist yet")
    code = (
        f"import sys, {package}\n"
        "bad = sorted(m for m in ('asyncio', 'bleak', 'bumble', 'textual') if m in sys.modules)\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert result.stdout.strip() == "", f"importing {package} loaded {result.stdout.strip()}"
