"""Headless Chromium (Debian's /usr/bin/chromium) driven by Playwright, for admin tests."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from harness.processes import ROOT

CHROMIUM = os.environ.get("TAOS_CHROMIUM", "/usr/bin/chromium")
# Without these, Chromium tries the network at start, and this machine has none.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ARTIFACTS = Path(os.environ.get("TAOS_TEST_ARTIFACTS", ROOT / "var" / "test-artifacts"))


def chromium_available() -> bool:
    return shutil.which(CHROMIUM) is not None or Path(CHROMIUM).exists()


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot as a test artifact and return its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
