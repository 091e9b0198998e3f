"""The report's first screen (issue 29): its values, from the scan's own counts, and its markup.

Expectations are written from the account the test builds: which bucket is public (a policy that
allows everyone: S3's meaning of public), which cannot be read (ERROR, not compliant), which is
bare (FAILs of medium and low checks).
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from s3compliance.outputs import headline as hl
from s3compliance.scan.run import run_scan

PUBLIC_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::*",
        }
    ],
}


@pytest.fixture
def result(account, params):
    account.compliant_bucket("aaa-good")
    account.compliant_bucket("bbb-good")
    account.bucket(
        "ccc-bare"
    )  # versioning, encryption? (S3 encrypts by default), lifecycle, metrics
    account.bucket("ddd-public", versioning="Enabled", policy=PUBLIC_POLICY)
    account.compliant_bucket("eee-denied")
    account.faults.fail("eee-denied", "GetBucketVersioning", "AccessDenied")
    return run_scan(replace(params, run_date="2026-12-03"), clients=account.clients())


def test_the_headline_counts_what_the_summary_counts(result, params) -> None:
    head = hl.headline(result, params, None, "r1", "2026-12-03")
    summary = result.summary()
    assert head.buckets == {
        "total": 5,
        "compliant": summary["compliant_buckets"],
        "non_compliant": summary["non_compliant_buckets"],
        "unknown": summary["unknown_buckets"],
        "accepted": 0,
    }
    assert head.buckets["compliant"] == 2 and head.buckets["unknown"] == 1
    assert head.share("compliant") == pytest.approx(0.4)
    assert head.account_id == result.account_id and not head.organization
    assert head.complete and head.failed_accounts == []
    assert head.fails_by_severity["critical"] == 1  # public_access, ddd-public only
    assert list(head.fails_by_severity) == ["critical", "high", "medium", "low"]
    fails = sum(c["FAIL"] for c in summary["by_check"].values())
    assert sum(head.fails_by_severity.values()) == fails
    assert head.errors == sum(c["ERROR"] for c in summary["by_check"].values()) >= 1
    assert head.public_buckets == 1
    assert head.changes is None and head.previous_run is None
    # worst first: the critical bucket, then the bare one with more violations
    assert [w["bucket"] for w in head.worst] == ["ddd-public", "ccc-bare"]
    assert head.worst[0]["severity"] == "critical"
    assert head.worst[0]["anchor"] == f"bucket-{result.account_id}-ddd-public"
    page = hl.headline_html(head)
    assert "First run: no earlier run to compare with." in page
    assert 'data-tile="compliant"><b>40%</b>' in page
    assert '<span class="s3c-run">r1</span>' in page and "2026-12-03" in page
    assert "<script" not in page
    table = hl.worst_table_html(head)
    for worst in head.worst:  # every link of the headline has its row below
        assert f'href="#{worst["anchor"]}"' in page and f'id="{worst["anchor"]}"' in table


def test_changes_since_the_last_run_are_counted_and_linked(result, params) -> None:
    changes = pd.DataFrame({"kind": ["new", "new", "resolved", "persisting", "regressed"]})
    changes.attrs.update(note="", previous="day-1")
    head = hl.headline(result, params, changes, "r2", "2026-12-03")
    assert head.changes == {"new": 2, "resolved": 1, "regressed": 1}
    page = hl.headline_html(head)
    assert 'Since run day-1: <span data-kind="new"><b>2</b> new</span>' in page
    assert '<a href="#Since-the-last-run">' in page
    first = pd.DataFrame({"kind": []})
    first.attrs.update(note="first run: no history yet")
    assert hl.headline(result, params, first, "r", "d").changes is None


def test_markup_from_an_account_shows_as_text() -> None:
    planted = "<img src=x onerror=alert(1)>"
    head = hl.Headline(
        account_id="123456789012",
        account_name=planted,
        accounts=1,
        failed_accounts=[],
        skipped_accounts=0,
        organization=False,
        regions=["us-east-1"],
        profile="mission",
        run_id=f"r{planted}",
        run_date="2026-12-03",
        complete=True,
        incomplete_because=[],
        buckets={"total": 0, "compliant": 0, "non_compliant": 0, "unknown": 0, "accepted": 0},
        fails_by_severity={"critical": 0},
        errors=0,
        public_buckets=0,
        changes={"new": 1, "resolved": 0, "regressed": 0},
        previous_run=planted,
        worst=[
            {
                "bucket": planted,
                "account_id": "1",
                "region": planted,
                "severity": "high",
                "violations": 1,
                "anchor": f'x" onmouseover="{planted}',
            }
        ],
    )
    page = hl.headline_html(head) + hl.worst_table_html(head)
    assert planted not in page and "<img" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert 'onmouseover="' not in page
    assert head.share("compliant") == 0.0  # no bucket: no division


def test_an_organization_run_names_its_failed_accounts_in_red(result, params) -> None:
    accounts = pd.DataFrame(
        {
            "account_id": ["111111111111", "222222222222", "333333333333"],
            "account_name": ["a", "b", "c"],
            "status": ["scanned", "error", "skipped"],
        }
    )
    org = replace(
        result, organization=True, accounts=accounts, truncated_listings=("111111111111",)
    )
    head = hl.headline(org, params, None, "r", "2026-12-03")
    assert head.organization and head.accounts == 3 and head.account_name == ""
    assert head.skipped_accounts == 1
    assert head.failed_accounts == ["222222222222"] and not head.complete
    page = hl.headline_html(head)
    assert "Organization run: 3 account(s) · 1 skipped (suspended or closed)" in page
    assert '<span class="s3c-failed">1 failed: 222222222222</span>' in page
    assert "failed:" not in hl.headline_html(replace(head, failed_accounts=[], skipped_accounts=0))
    assert (
        "INCOMPLETE: 1 account(s) could not be scanned; discovery may be truncated in 1 account(s)"
        in page
    )


def test_nothing_failing_says_so(account, params) -> None:
    account.compliant_bucket("only-good")
    clean = run_scan(params, clients=account.clients())
    head = hl.headline(clean, params, None, "r", "d")
    assert head.worst == [] and head.public_buckets == 0
    assert hl.worst_buckets(clean).empty
    assert "No bucket fails a check." in hl.headline_html(head)
    assert hl.worst_table_html(head) == "<p>No bucket fails a check.</p>"
    assert hl.bucket_anchor("1", "a.b-c<x>") == "bucket-1-a.b-cx"
    no_public_check = run_scan(replace(params, checks=["versioning"]), clients=account.clients())
    assert hl.headline(no_public_check, params, None, "r", "d").public_buckets == 0


def test_the_notebook_steps_show_the_headline_and_its_rows(result, params, tmp_path, capsys):
    """The report's cells: the changes computed once (the headline counts them, "Since the
    last run" lists them), the headline, the worst buckets' rows; the run's name as shown."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    from s3compliance.outputs import notebook as runner

    InteractiveShell.instance()  # display() hands outputs to a shell, as in the kernel

    chosen = replace(params, output_dir=str(tmp_path), run_id=None)
    changes = runner.changes_since_last_run(result, chosen)
    assert changes.attrs["note"] == "first run: no history yet"  # an empty output folder
    with capture_output() as shown:
        head = runner.show_headline(result, chosen, changes, "2026-12-03", "/out/.staging/r7")
        runner.show_worst(head)
    assert head.run_id == "r7" and head.changes is None
    html = [o.data["text/html"] for o in shown.outputs]
    assert 'id="headline"' in html[0] and f'id="{head.worst[0]["anchor"]}"' in html[1]
    assert runner.show_changes(result, chosen, changes) is changes
    assert "first run: no history yet" in capsys.readouterr().out
    assert runner.run_name(replace(chosen, run_id="nightly")) == "nightly"
    assert runner.run_name(chosen) == "(named when the run folder is written)"
    InteractiveShell.clear_instance()


def test_python_m_s3compliance_runs_only_as_the_main_module() -> None:
    """A spawned child (report.html is rendered in one) re-imports the main module under
    another name: importing it must not run the command."""
    import importlib
    import sys

    sys.modules.pop("s3compliance.__main__", None)
    module = importlib.import_module("s3compliance.__main__")
    assert callable(module.main)
