"""Re-make the report screenshot the README and the docs show: the demo report's first screen.

    .venv/bin/python docs/screenshots.py

Runs the demo (after two past runs, so "since the last run" has numbers) into a temporary folder
and photographs the first 1400x1000 viewport of its report.html in headless Chromium, offline.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from s3compliance.cli import main

OUT = Path(__file__).resolve().parent / "images" / "report-first-screen.png"


def shoot() -> int:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("needs Chromium: apt-get install chromium", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        code = main(["demo", "--output-dir", tmp, "--run-id", "demo", "--history", "3"])
        if code not in (0, 3):
            return code
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto((Path(tmp) / "demo" / "report.html").as_uri())
            page.wait_for_selector("table.dataTable")
            page.screenshot(path=str(OUT))
            browser.close()
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(shoot())
