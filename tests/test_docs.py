"""The documentation site builds with no warning, and its reference pages are the code's.

``mkdocs build --strict`` (what ``make docs`` runs) fails on a broken link, a missing anchor, a
page left out of the navigation or an API reference that does not resolve. The reference pages
are generated at build time (``docs/gen_reference.py``); the expectations below come from the
registries themselves, so a check, parameter or command the pages do not show fails here.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from s3compliance import cli
from s3compliance.checks import CATALOGUE, ORDER
from s3compliance.iac.iam import iam_policy
from s3compliance.params import KEYS, SCHEMA

ROOT = Path(__file__).resolve().parent.parent
QUIET = {"NO_MKDOCS_2_WARNING": "1", "DISABLE_MKDOCS_2_WARNING": "true"}

pytestmark = pytest.mark.skipif(
    shutil.which("mkdocs", path=str(Path(sys.executable).parent)) is None,
    reason="mkdocs is not installed: pip install -e '.[docs]' (make test installs it)",
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "mkdocs"), "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **QUIET},
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "WARNING" not in proc.stderr, proc.stderr[-3000:]
    return out


def _text(page: Path, between: str = " ") -> str:
    """A built page's visible text, each tag replaced by ``between``, entities decoded."""
    body = re.sub(r"<script.*?</script>|<style.*?</style>", " ", page.read_text(), flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", between, body))


def test_every_check_is_in_the_catalogue_page_with_its_metadata(site: Path) -> None:
    page = (site / "reference" / "checks" / "index.html").read_text()
    text = _text(site / "reference" / "checks" / "index.html")
    for cid in ORDER:
        check = CATALOGUE[cid]
        assert f'id="{cid}"' in page, cid  # a section of its own, linked from the table
        section = text.split(f"{cid} ¶", 1)[1]
        assert check.severity in section[:400]
        for action in check.permissions:
            assert action in section[:4000], (cid, action)
        for control in check.frameworks:
            assert control in section[:4000], (cid, control)


def test_every_parameter_is_on_the_parameters_page_with_its_description(site: Path) -> None:
    text = " ".join(_text(site / "reference" / "parameters" / "index.html").split())
    for key in KEYS:
        description = " ".join(SCHEMA["properties"][key]["description"].split())
        assert f"{key} " in text and description in text, key


def test_every_command_and_option_is_on_the_cli_page(site: Path) -> None:
    text = _text(site / "reference" / "cli" / "index.html")
    parser = cli._parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert len(sub.choices) >= 15
    for name, command in sub.choices.items():
        assert f"usage: s3compliance {name}" in text, name
        for action in command._actions:
            if action.help == argparse.SUPPRESS:
                continue  # hidden from --help on purpose (a test hook), so from the page too
            for flag in action.option_strings:
                assert flag in text, (name, flag)


def test_the_iam_page_shows_what_iam_policy_prints(site: Path) -> None:
    page = _text(site / "reference" / "iam" / "index.html", between="")  # code as printed
    blocks = [json.loads(b) for b in re.findall(r"(\{\s*\"Version\".*?\n\})", page, re.S)]
    assert blocks[0] == iam_policy()
    assert iam_policy(profile="all") in blocks
    assert iam_policy(with_writes=True) in blocks


def test_the_api_page_documents_the_functions_the_notebooks_call(site: Path) -> None:
    page = (site / "api" / "index.html").read_text()
    for name in (
        "s3compliance.scan.discovery.discover_buckets",
        "s3compliance.scan.run.run_scan",
        "s3compliance.scan.scanner.Scanner",
        "s3compliance.outputs.report.write_report",
        "s3compliance.outputs.history.changes",
        "s3compliance.iac.remediation.plan",
    ):
        assert f'id="{name}"' in page, name


def test_the_readme_is_a_landing_page_whose_links_all_lead_somewhere() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 150
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", readme)
    local = [link for link in links if not link.startswith("http")]
    assert len(local) >= 15
    for link in local:
        assert (ROOT / link).exists(), link
    pages = {p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md")}
    linked = {link.removeprefix("docs/") for link in local if link.endswith(".md")}
    assert {p for p in pages if p.startswith("tasks/")} <= linked  # every task page is reachable
