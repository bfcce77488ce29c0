"""The HTML overview in a real browser: headless Chromium renders it, and a screenshot is kept.

The screenshot goes to ``$J9330_TEST_ARTIFACTS`` (default ``build/test-artifacts/``) so a
person can look at it. Without Chromium the test skips, unless ``J9330_REQUIRE_CHROMIUM`` is
set (CI sets it), where a missing browser fails.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from j9330_rules import Editor
from j9330_rules.report.overview import render_html, summarise
from tests.conftest import FIXTURE_ASP, FIXTURES, ROOT
from tests.test_report import SEED_SECTIONS

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
FEES = FIXTURES / "fees" / "contract_fee_schedule_fixture.csv"  # MADE-UP FIXTURE
ARTIFACTS = Path(os.environ.get("J9330_TEST_ARTIFACTS", ROOT / "build" / "test-artifacts"))
WIDTH, HEIGHT = 1280, 2600


@pytest.fixture(scope="module")
def chromium() -> str:
    if CHROMIUM is None:
        if os.environ.get("J9330_REQUIRE_CHROMIUM"):
            pytest.fail("J9330_REQUIRE_CHROMIUM is set but no chromium is installed (apt-get install chromium)")
        pytest.skip("headless Chromium is not installed (Debian: apt-get install chromium)")
    return CHROMIUM


def _run(chromium: str, *args: str) -> str:
    completed = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *args],
        capture_output=True,
        timeout=120,
        check=True,
    )
    return completed.stdout.decode("utf-8", "replace")


def _png_size_and_colours(path: Path) -> tuple[int, int, int]:
    """Width, height and the number of distinct bytes in the image data (blank pages have few)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    chunks, offset = [], 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        if kind == b"IDAT":
            chunks.append(data[offset + 8 : offset + 8 + length])
        offset += 12 + length
    pixels = zlib.decompress(b"".join(chunks))
    return width, height, len(set(pixels))


def test_the_overview_renders_in_chromium_with_its_sections_and_chart(chromium, tmp_path):
    editor = Editor(asp_file=FIXTURE_ASP, fee_schedule=FEES)  # MADE-UP prices
    page = tmp_path / "overview.html"
    page.write_text(render_html(summarise(editor, dt.date(2026, 3, 2))), encoding="utf-8")

    dom = _run(chromium, "--dump-dom", page.as_uri())
    for section in SEED_SECTIONS:
        assert f">{section}</h2>" in dom, section
    bars = re.findall(r'<rect class="bar" data-payer="([a-z_]+)"', dom)
    assert sorted(bars) == ["aetna", "bcbs", "medicare"]  # the payers the fixtures price
    assert "$1,053.43" in dom and "Allowed amount for 25 units (US dollars)" in dom
    assert re.search(r'<text class="tick"[^>]*>\$1,\d00</text>', dom), "money ticks with thousands separators"

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "report-overview.png"
    shot.unlink(missing_ok=True)
    _run(chromium, f"--screenshot={shot}", f"--window-size={WIDTH},{HEIGHT}", page.as_uri())
    width, height, colours = _png_size_and_colours(shot)
    assert (width, height) == (WIDTH, HEIGHT)
    assert colours > 50, "the screenshot is blank"
