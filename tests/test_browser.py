"""The demo report as a reader meets it: headless Chromium, offline, JavaScript running.

Chromium comes from the distribution (``apt-get install chromium``; ``.ci/run`` installs it when
missing, as root); Playwright drives it by ``executable_path``, no browser is downloaded. Without
Chromium these tests are skipped with a message saying how to enable them.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from s3compliance.cli import EXIT_FINDINGS, main

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
#: Flags for a closed network (no background connections) and a root user (CI).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="headless Chromium not found: `apt-get install chromium` enables the browser tests "
    "(.ci/run installs it)",
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install '.[test]'")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo report after two past runs of the demo account (its history: the headline's
    "since the last run" has something to count)."""
    out = tmp_path_factory.mktemp("browser-demo")
    assert (
        main(["demo", "--output-dir", str(out), "--run-id", "r", "--history", "3"]) == EXIT_FINDINGS
    )
    return out / "r"


class Page:
    """A loaded page with what it logged, requested and raised along the way."""

    def __init__(self, browser: Any, url: str, screenshots: Path) -> None:
        self.page = browser.new_page(viewport={"width": 1400, "height": 1000})
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.screenshots = screenshots
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else 0)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", self._request)
        self.page.on("dialog", self._dialog)
        self.page.goto(url)
        self.page.wait_for_selector("table.dataTable", timeout=20_000)

    def _request(self, request: Any) -> None:
        if not request.url.startswith(("file:", "data:", "blob:")):
            self.requests.append(request.url)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def table(self, caption: str) -> Any:
        """The DataTables container whose table has this caption."""
        return self.page.locator(
            ".dt-container", has=self.page.locator(f"caption:text-is('{caption}')")
        )

    def all_rows(self, caption: str) -> list[list[str]]:
        """Every row of a table: show all of them on one page ("All"), read the cells."""
        container = self.table(caption)
        container.locator("select").select_option("-1")  # "All"
        rows = container.locator("tbody tr")
        return [row.locator("td").all_inner_texts() for row in rows.all()]

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(self.screenshots / f"{name}.png"), full_page=False)


@pytest.fixture
def report(
    browser: Any, demo_run: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Page]:
    page = Page(browser, (demo_run / "report.html").as_uri(), tmp_path)
    yield page
    call = getattr(request.node, "rep_call", None)
    if call is not None and call.failed:
        page.shot("failure")  # kept under the test's tmp dir
    page.page.close()


def test_the_report_runs_offline_without_errors(report: Page) -> None:
    assert report.errors == []
    assert report.requests == []  # nothing leaves the machine when a report is opened
    assert report.page.title().startswith("S3 compliance report · account 123456789012")


def test_the_first_screen_answers_who_when_how_bad_and_what_changed(
    report: Page, demo_run: Path
) -> None:
    """Issue 29: in the first 1400x1000 viewport, the account, the run date, the compliant
    share, the critical count and the changes since the last run, equal to findings.json and
    the history; the worst buckets link to rows that exist."""
    from s3compliance.checks import CATALOGUE
    from s3compliance.outputs import history

    findings = json.loads((demo_run / "findings.json").read_text())
    run = json.loads((demo_run / "run.json").read_text())
    summary = findings["summary"]
    head = report.page.locator("#headline")
    box = head.bounding_box()
    assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 1000
    text = head.inner_text()
    assert findings["account_id"] in text and run["run_date"] in text
    share = summary["compliant_buckets"] / summary["total_buckets"]
    tile = head.locator("[data-tile='compliant'] b")
    assert tile.inner_text() == f"{share:.0%}" and tile.is_visible()
    critical = sum(
        counts["FAIL"]
        for check, counts in summary["by_check"].items()
        if CATALOGUE[check].severity == "critical"
    )
    assert head.locator("[data-tile='critical FAIL'] b").inner_text() == str(critical)
    changed = history.changes(current="r", output_dir=demo_run.parent)
    assert not changed.attrs["note"]  # three runs: there is a last one to compare with
    counts = changed["kind"].value_counts()
    for kind in ("new", "resolved", "regressed"):
        shown = head.locator(f"[data-kind='{kind}'] b")
        assert shown.is_visible() and shown.inner_text() == str(int(counts.get(kind, 0))), kind
    assert f"Since run {changed.attrs['previous']}" in text
    links = head.locator("a[href^='#']")
    targets = [links.nth(i).get_attribute("href") for i in range(links.count())]
    worst = [t for t in targets if t.startswith("#bucket-")]
    assert len(worst) == 10 and "#Since-the-last-run" in targets
    for target in targets:
        assert report.page.locator(f"[id='{target[1:]}']").count() == 1, target
    report.shot("first-screen")
    assert report.errors == []


def test_every_non_compliant_bucket_is_in_the_table(report: Page, demo_run: Path) -> None:
    findings = json.loads((demo_run / "findings.json").read_text())
    expected = sorted(b["bucket_name"] for b in findings["non_compliant_buckets"])
    rows = report.all_rows("Non-compliant buckets, worst first")
    assert sorted(row[0] for row in rows) == expected
    assert len(expected) == 78


def test_the_search_box_finds_one_bucket(report: Page) -> None:
    container = report.table("Non-compliant buckets, worst first")
    container.locator("input[type=search]").fill("demo-public-bare-01")
    report.page.wait_for_timeout(300)
    rows = container.locator("tbody tr")
    assert rows.count() == 1
    assert rows.first.locator("td").first.inner_text() == "demo-public-bare-01"


def test_account_data_is_text_never_markup(report: Page) -> None:
    """A condition value of the demo fleet is ``<img src=x onerror=alert(1)>``: it must show as
    text, create no element, and run no script."""
    container = report.table("Every finding, worst first")
    container.locator("input[type=search]").fill("onerror")
    report.page.wait_for_timeout(300)
    cells = container.locator("tbody td").all_inner_texts()
    assert any("<img src=x onerror=alert(1)>" in text for text in cells)
    assert report.page.locator("img[src='x']").count() == 0
    assert report.dialogs == []
    assert report.errors == []


def test_no_table_is_truncated_or_downsampled(report: Page, demo_run: Path) -> None:
    html = (demo_run / "report.html").read_text()
    assert "downsampled" not in html.lower()
    assert " rows x " not in html  # pandas' "[67 rows x 5 columns]" after a cut
    findings = json.loads((demo_run / "findings.json").read_text())
    every = report.all_rows("Every finding, worst first")
    total = sum(len(b["findings"]) for b in findings["buckets"]) + len(findings["account_findings"])
    assert len(every) == total
    assert all("…" not in cell and not cell.endswith("...") for row in every for cell in row)


LEFT_OUT = "every row is in findings.parquet and the explore notebook"


@pytest.fixture(scope="module")
def cut_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo report with ``report_max_rows: 20``: its long tables are cut."""
    out = tmp_path_factory.mktemp("browser-cut")
    params = out / "cut.yaml"
    demo = Path(__file__).parent.parent / "params" / "demo.yaml"
    params.write_text(demo.read_text() + "report_max_rows: 20\n")
    code = main(["demo", "--params", str(params), "--output-dir", str(out), "--run-id", "r"])
    assert code == EXIT_FINDINGS
    return out / "r"


def test_a_cut_report_says_in_each_caption_how_many_rows_it_left_out(
    browser: Any, cut_run: Path, tmp_path: Path
) -> None:
    findings = json.loads((cut_run / "findings.json").read_text())
    every = [f for b in findings["buckets"] for f in b["findings"]] + findings["account_findings"]
    failing = sorted(
        (b for b in findings["buckets"] if b["status"] == "non_compliant"),
        key=lambda b: -sum(f["status"] == "FAIL" for f in b["findings"]),
    )
    open_rows = [f for f in every if f["status"] != "PASS"]
    passed = len(every) - len(open_rows)
    page = Page(browser, (cut_run / "report.html").as_uri(), tmp_path)
    try:
        nc = len(failing)
        caption = (
            f"Non-compliant buckets, worst first (the first 20 of {nc} rows, worst first; "
            f"{nc - 20} left out: {LEFT_OUT})"
        )
        rows = page.all_rows(caption)
        assert len(rows) == 20 and nc == 78
        # worst first: no bucket left out fails more checks than one shown
        shown = {r[0] for r in rows}
        counts = {
            b["bucket_name"]: sum(f["status"] == "FAIL" for f in b["findings"]) for b in failing
        }
        assert min(counts[n] for n in shown) >= max(c for n, c in counts.items() if n not in shown)
        caption = (
            f"Every FAIL and ERROR finding (the first 20 of {len(open_rows)} rows, worst first; "
            f"{len(open_rows) - 20} left out: {LEFT_OUT})"
        )
        rows = page.all_rows(caption)
        assert len(rows) == 20
        assert all(row[4] == "FAIL" for row in rows)  # FAILs come before ERRORs
        assert rows[0][5] == "critical"  # and the most severe first
        container = page.table(f"PASS findings ({passed}), counted per check, account and region")
        summary = [r.locator("td").all_inner_texts() for r in container.locator("tbody tr").all()]
        assert len(summary) == 5  # a short table: one page, no length menu
        assert sum(int(row[3]) for row in summary) == passed
        # the import plan is cut too: the program in the run folder holds every row
        imported = json.loads((cut_run / "pulumi" / "import.json").read_text())["resources"]
        plan = page.page.locator(".dt-container caption", has_text="Pulumi import plan")
        told = re.fullmatch(
            r"Pulumi import plan \(the first 20 of (\d+) rows, by bucket; (\d+) left out: "
            r"every row is in the run folder's pulumi/ program\)",
            plan.inner_text(),
        )
        assert told is not None, plan.inner_text()
        total, left_out = int(told[1]), int(told[2])
        assert total >= len(imported) > 20 and left_out == total - 20
        caption = page.page.locator("caption", has_text="Pulumi import plan")
        container = page.page.locator(".dt-container", has=caption)
        container.locator("select").select_option("-1")  # "All"
        assert container.locator("tbody tr").count() == 20
        assert page.errors == [] and page.requests == []
    finally:
        page.page.close()


# --- explore.ipynb in a real JupyterLab --------------------------------------------------------
@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory: pytest.TempPathFactory, demo_run: Path) -> Iterator[str]:
    """JupyterLab on 127.0.0.1 with a token, serving a project folder: notebooks/explore.ipynb
    and output/ holding the demo run (so the notebook's default, output/latest, finds it)."""
    import os
    import secrets
    import subprocess
    import sys
    import time
    import urllib.request

    pytest.importorskip("jupyterlab", reason="pip install '.[test]'")
    from conftest import free_port

    project = tmp_path_factory.mktemp("lab-project")
    (project / "notebooks").mkdir()
    shutil.copy(Path(__file__).parent.parent / "notebooks" / "explore.ipynb", project / "notebooks")
    shutil.copytree(demo_run, project / "output" / "r")
    (project / "output" / "latest").symlink_to("r", target_is_directory=True)
    port, token = free_port(), secrets.token_hex(16)
    log = (project / "jupyterlab.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--allow-root",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={project}",
            "--LabApp.news_url=",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "JUPYTER_PLATFORM_DIRS": "1"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail(f"JupyterLab did not start; see {project / 'jupyterlab.log'}")
                time.sleep(0.5)
        yield f"{base}/lab/tree/notebooks/explore.ipynb?token={token}"
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def run_all_cells(page: Any, attempts: int = 3) -> None:
    """Run > Run All Cells, until the kernel has taken the cells: a freshly opened notebook may
    drop the first request while its kernel connection settles."""
    for _ in range(attempts):
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_text("Run All Cells", exact=True).click()
        try:
            page.wait_for_selector(".jp-InputPrompt:has-text('[1]')", timeout=20_000)
            return
        except Exception:
            continue
    pytest.fail("JupyterLab never executed the notebook's cells")


def test_explore_runs_all_cells_in_jupyterlab(
    browser: Any, jupyterlab: str, tmp_path: Path
) -> None:
    page = browser.new_page(viewport={"width": 1500, "height": 1100})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(jupyterlab)
        page.wait_for_selector(".jp-Notebook", timeout=60_000)
        page.wait_for_selector("text=Python 3 (ipykernel) | Idle", timeout=60_000)
        run_all_cells(page)
        # the interactive table and the widgets (dropdowns, text box) render
        page.wait_for_selector(".jp-OutputArea-output table.dataTable", timeout=90_000)
        page.wait_for_selector(".widget-dropdown select", timeout=90_000)
        page.wait_for_selector(".widget-text input", timeout=30_000)
        page.wait_for_selector("caption:has-text('Checks of')", timeout=60_000)  # drill-down
        assert page.locator(".jp-OutputArea-output .dt-container").count() >= 2
        assert (
            page.locator(
                ".jp-OutputArea-output [data-mime-type='application/vnd.jupyter.stderr']"
            ).count()
            == 0
        )
        no_news = page.get_by_role("button", name="No", exact=True)  # "notified of news?" toast
        if no_news.count():
            no_news.click()
        page.locator(".widget-dropdown select").first.evaluate(
            "e => e.scrollIntoView({block: 'start'})"
        )
        page.wait_for_timeout(500)
        page.screenshot(path=str(tmp_path / "explore.png"))  # as in README's "Explore a run"
        assert errors == []
    except Exception:
        page.screenshot(path=str(tmp_path / "failure.png"))
        raise
    finally:
        page.close()
