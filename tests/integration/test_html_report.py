"""`dunflow report --html` in a real headless Chromium (Debian's `chromium`; `.ci/run` installs it): the page
loads from disk with the network cut off, without console errors, every chart is drawn, and a screenshot of
it is a real picture, not a blank page. SQLite and PostgreSQL."""
from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from click.testing import CliRunner

from dunflow.cli.main import main

OFFLINE = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--enable-logging=stderr",
           "--v=0", "--host-resolver-rules=MAP * ~NOTFOUND", "--virtual-time-budget=3000"]


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("chromium is not installed (apt-get install -y chromium; .ci/run does it)")
    return found


def cli(project: Path, database: str, *args: str) -> str:
    result = CliRunner().invoke(main, ["--project", str(project), "--database", database, *args],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture
def page(tmp_path: Path, database_url: str) -> Path:
    """The demo after a month of daily runs and a payment, with a what-if simulation beside it."""
    project = tmp_path / "demo"
    cli(project, database_url, "init", str(project))
    cli(project, database_url, "import", "debtors", str(project / "debtors.csv"))
    cli(project, database_url, "import", "invoices", str(project / "invoices.csv"))
    for day in ("2026-12-01", "2026-12-07", "2026-12-14"):
        cli(project, database_url, "run", "--as-of", day, "--send")
    cli(project, database_url, "payments", "add", "INV-1001", "1190.00", "--date", "2026-12-09")
    simulation = tmp_path / "sim.json"
    simulation.write_text(cli(project, database_url, "simulate", "--from", "2026-12-15", "--to", "2027-02-28",
                              "--compare", str(project / "policies"), "--format", "json"))
    cli(project, database_url, "report", "--html", str(tmp_path / "report.html"), "--simulation", str(simulation),
        "--as-of", "2026-12-15")
    return tmp_path / "report.html"


def test_the_page_loads_offline_without_console_errors_and_draws_every_chart(page: Path) -> None:
    run = subprocess.run([chromium(), *OFFLINE, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=120, check=True)
    body = re.search(r"<body[^>]*>", run.stdout)
    assert body is not None
    charts = re.search(r'data-charts="(\d+)"', body.group(0))
    drawn = re.search(r'data-charts-drawn="(\d+)"', body.group(0))
    assert charts and drawn and int(charts.group(1)) == 5 and drawn.group(1) == charts.group(1)
    assert [line for line in run.stderr.splitlines() if ":CONSOLE" in line] == []
    assert "<script src" not in page.read_text() and "<link" not in page.read_text()


def png_pixels(data: bytes) -> tuple[int, int, bytes]:
    """Width, height and the inflated image data of a PNG (its filter bytes included)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    chunks, at = b"", 8
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        if kind == b"IDAT":
            chunks += data[at + 8:at + 8 + length]
        at += 12 + length
    return width, height, zlib.decompress(chunks)


def test_a_screenshot_of_the_page_is_a_picture_not_a_blank_page(page: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    subprocess.run([chromium(), *OFFLINE, f"--screenshot={shot}", "--window-size=1280,2400", page.as_uri()],
                   capture_output=True, timeout=120, check=True)
    width, height, pixels = png_pixels(shot.read_bytes())
    assert (width, height) == (1280, 2400)
    assert len(set(pixels)) > 50  # a blank page inflates to a handful of distinct byte values
