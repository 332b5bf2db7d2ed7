"""The README's "Running an auction day" block, run as written (bash + curl + python3) against
the real gateway: every figure its comments promise, computed here by hand.

Lots 40 bags for 52,000 and 25 bags for 30,000 (82,000). Farmer side: commission 6 % = 4,920
and weighing 2 lots x 10 = 20, so net 77,060. Buyer side: market fee 1 % = 820 and hamali
65 bags x 2 = 130, so the invoice is 82,950; 50,000 collected leaves 32,950. The agent's
income is the commission and its own charge: 4,920 + 20 = 4,940; the yard's fee is 820.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from devstack.stack import Stack

README = Path(__file__).resolve().parents[2] / "README.md"

EXPECTED_OUTPUT = [
    "BILL-001 77060.0",
    "77060.0",
    "INV-001 82950.0",
    "PAID",
    "PARTIAL",
    "4",
    "[('INV-001', 32950.0)]",
    "32950.0",
    "4940.0",
    "820.0",
    "True",
]


def auction_day_block() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Running an auction day\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match, "README's 'Running an auction day' has no sh block"
    return match.group(1)


def test_the_readme_block_promises_each_figure_in_its_comments() -> None:
    block = auction_day_block()
    for value in EXPECTED_OUTPUT:
        assert f"# {value}" in block, f"README's auction day no longer says {value!r}"


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_an_auction_day_runs_from_the_readme(stack: Stack, source_ip: str, tmp_path: Path) -> None:
    # The block logs in like anyone else: from an address of its own (auth throttles per
    # address), through curl's own configuration file.
    (tmp_path / ".curlrc").write_text(f"interface = {source_ip}\n")
    script = "set -euo pipefail\n" + auction_day_block()
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "CURL_HOME": str(tmp_path), "GW": stack.gateway_url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == EXPECTED_OUTPUT, done.stdout
    page = (tmp_path / "bill.html").read_text()
    assert "BILL-001" in page and "<svg" in page
    rows = (tmp_path / "day-book.csv").read_text().splitlines()
    assert len(rows) == 1 + 4, rows  # the header, then the day's four money events
