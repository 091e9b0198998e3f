"""The report's first screen: who and when, how bad, what changed, and the ten worst buckets.

A security lead reads the first screen of the nightly report and closes it, so that screen must
be the report (as Prowler's HTML and Security Hub's summary lead with theirs). It is made from
what the run already holds: the summary's counts (no finding is read for them), the changes since
the previous complete run, and the FAIL findings of the worst buckets. Every value that comes
from an account (a name, a bucket) is escaped; the block is plain HTML and CSS, no script, so it
works offline in the report and in JupyterLab alike.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from s3compliance.checks import CATALOGUE
from s3compliance.checks.registry import SEVERITIES
from s3compliance.outputs.report import SEVERITY_RANK

if TYPE_CHECKING:
    from s3compliance.params import Params
    from s3compliance.scan.scanner import ScanResult

#: How many buckets the first screen names.
WORST = 10
#: The checks whose FAIL means a bucket can be reached by anyone (policy, ACL).
PUBLIC_CHECKS = ("public_access", "public_acl")
#: The report section that lists every change (nbconvert's id of the heading).
CHANGES_SECTION = "Since-the-last-run"
#: The FAIL findings' columns the headline reads: the worst buckets' and the public ones'.
FAIL_COLUMNS = ["account_id", "bucket", "check_id", "severity"]
#: A worst bucket's values after its name, as both of its tables show them.
WORST_KEYS = ("account_id", "region", "severity", "violations")


@dataclass(frozen=True)
class Headline:
    """What the first screen says, as values (tests compare them with ``findings.json``)."""

    account_id: str
    account_name: str
    accounts: int  # accounts asked for (1 for a single-account run)
    failed_accounts: list[str]  # could not be scanned
    skipped_accounts: int  # suspended or closed, left out on purpose
    organization: bool
    regions: list[str]
    profile: str
    run_id: str
    run_date: str
    complete: bool
    incomplete_because: list[str]
    buckets: dict[str, int]  # total, compliant, non_compliant, unknown, accepted
    fails_by_severity: dict[str, int]  # FAIL findings, critical first
    errors: int  # ERROR findings
    public_buckets: int
    changes: dict[str, int] | None  # new, resolved, regressed; None on a first run
    previous_run: str | None
    worst: list[dict[str, Any]] = field(default_factory=list)

    def share(self, key: str) -> float:
        """The share of all buckets, 0 with none."""
        total = self.buckets["total"]
        return self.buckets[key] / total if total else 0.0


def bucket_anchor(account_id: str, bucket: str) -> str:
    """The id of a bucket's row in the report's "worst buckets" table (S3 bucket names are
    lower-case letters, digits, dots and hyphens; anything else is dropped)."""
    safe = "".join(ch for ch in f"{account_id}-{bucket}" if ch.isalnum() or ch in ".-")
    return f"bucket-{safe}"


def worst_buckets(
    result: ScanResult, count: int = WORST, fails: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The ``count`` worst non-compliant buckets: the worst severity among their FAILs (critical
    first), then the most violations, then account and name. Reads only the FAIL findings
    (``fails``: those already read, with :data:`FAIL_COLUMNS`)."""
    columns = ["account_id", "bucket", "region", "severity", "violations", "anchor"]
    if fails is None:
        fails = result.findings_of(statuses=["FAIL"], columns=FAIL_COLUMNS)
    flagged = result.buckets[result.buckets["status"] == "non_compliant"]
    if fails.empty or flagged.empty:
        return pd.DataFrame(columns=columns)
    worst = (
        fails.assign(rank=fails["severity"].map(SEVERITY_RANK))
        .groupby(["account_id", "bucket"], as_index=False)["rank"]
        .min()
    )
    table = flagged[["account_id", "bucket", "region", "violation_count"]].merge(
        worst, on=["account_id", "bucket"], how="inner"
    )
    table = table.sort_values(
        ["rank", "violation_count", "account_id", "bucket"], ascending=[True, False, True, True]
    ).head(count)
    return pd.DataFrame(
        {
            "account_id": table["account_id"],
            "bucket": table["bucket"],
            "region": table["region"],
            "severity": [SEVERITIES[int(rank)] for rank in table["rank"]],
            "violations": table["violation_count"].astype(int),
            "anchor": [
                bucket_anchor(a, b)
                for a, b in zip(table["account_id"], table["bucket"], strict=True)
            ],
        },
        columns=columns,
    ).reset_index(drop=True)


def _public_buckets(fails: pd.DataFrame) -> int:
    """Buckets whose policy or ACL lets anyone in (a FAIL of a :data:`PUBLIC_CHECKS` check)."""
    public = fails[fails["check_id"].isin(PUBLIC_CHECKS)]
    return len(public[["account_id", "bucket"]].drop_duplicates())


def _changes(changes: pd.DataFrame | None) -> tuple[dict[str, int] | None, str | None]:
    if changes is None or changes.attrs.get("note"):
        return None, None
    counts = changes["kind"].value_counts()
    kinds = ("new", "resolved", "regressed")
    return {k: int(counts.get(k, 0)) for k in kinds}, changes.attrs.get("previous")


def headline(
    result: ScanResult,
    params: Params,
    changes: pd.DataFrame | None,
    run_id: str,
    run_date: str,
) -> Headline:
    """The first screen's values. ``changes`` is :func:`s3compliance.outputs.history.changes`
    against this result (its ``note`` on a first run); ``run_id`` names the run folder."""
    summary = result.summary()
    fails_read = result.findings_of(statuses=["FAIL"], columns=FAIL_COLUMNS)
    by_check = summary["by_check"]
    fails = dict.fromkeys(SEVERITIES, 0)
    errors = 0
    for check_id, counts in by_check.items():
        fails[CATALOGUE[check_id].severity] += int(counts["FAIL"])
        errors += int(counts["ERROR"])
    accounts = result.accounts
    # "error": the account could not be scanned (the run is incomplete); "skipped": suspended or
    # closed, left out on purpose (said, not in red)
    failed = sorted(accounts.loc[accounts["status"] == "error", "account_id"].astype(str))
    skipped = int((accounts["status"] == "skipped").sum())
    incomplete = []
    if failed:
        incomplete.append(f"{len(failed)} account(s) could not be scanned")
    if summary.get("truncated_listings"):
        incomplete.append(
            f"discovery may be truncated in {summary['truncated_listings']} account(s)"
        )
    changed, previous = _changes(changes)
    return Headline(
        account_id=str(result.account_id),
        account_name=str(accounts["account_name"].fillna("").iloc[0]) if len(accounts) == 1 else "",
        accounts=len(accounts),
        failed_accounts=failed,
        skipped_accounts=skipped,
        organization=bool(result.organization),
        regions=list(result.regions),
        profile=params.profile if not params.checks else "custom",
        run_id=run_id,
        run_date=run_date,
        complete=not incomplete,
        incomplete_because=incomplete,
        buckets={
            "total": int(summary["total_buckets"]),
            "compliant": int(summary["compliant_buckets"]),
            "non_compliant": int(summary["non_compliant_buckets"]),
            "unknown": int(summary["unknown_buckets"]),
            "accepted": int(summary.get("accepted_buckets", 0)),
        },
        fails_by_severity=fails,
        errors=errors,
        public_buckets=_public_buckets(fails_read),
        changes=changed,
        previous_run=previous,
        worst=worst_buckets(result, fails=fails_read).to_dict("records"),
    )


_STYLE = """
<style>
.s3c-headline { font-family: system-ui, sans-serif; border: 1px solid #ccc; border-radius: 6px;
  padding: 0.8em 1.1em; margin: 0 0 1em 0; background: #fafafa; }
.s3c-headline h2 { margin: 0 0 0.3em 0; font-size: 1.35em; }
.s3c-headline .s3c-who { margin: 0 0 0.6em 0; color: #333; }
.s3c-headline .s3c-failed, .s3c-headline .s3c-incomplete { color: #b00020; font-weight: 600; }
.s3c-headline .s3c-tiles { display: flex; flex-wrap: wrap; gap: 0.6em; margin: 0.4em 0; }
.s3c-headline .s3c-tile { border: 1px solid #ddd; border-radius: 4px; padding: 0.35em 0.7em;
  background: #fff; min-width: 8.5em; }
.s3c-headline .s3c-tile b { display: block; font-size: 1.4em; }
.s3c-headline .s3c-critical b { color: #b00020; }
.s3c-headline table.s3c-worst { border-collapse: collapse; margin-top: 0.3em; font-size: 0.9em; }
.s3c-headline table.s3c-worst td, .s3c-headline table.s3c-worst th { padding: 0.1em 0.6em;
  text-align: left; border-bottom: 1px solid #eee; white-space: nowrap; }
</style>
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _worst_cells(worst: dict[str, Any]) -> str:
    """A worst bucket's cells after its name, the same in the headline and in its table."""
    return "".join(f"<td>{_e(worst[key])}</td>" for key in WORST_KEYS)


def _tile(label: str, value: str, detail: str = "", css: str = "") -> str:
    extra = f"<span>{_e(detail)}</span>" if detail else ""
    return (
        f'<div class="s3c-tile {css}" data-tile="{_e(label)}"><b>{_e(value)}</b>'
        f"{_e(label)} {extra}</div>"
    )


def headline_html(head: Headline) -> str:
    """The block, escaped: every value from the account or a file goes through ``html.escape``."""
    if head.organization:
        who = f"Organization run: {head.accounts} account(s)"
        if head.skipped_accounts:
            who += f" · {head.skipped_accounts} skipped (suspended or closed)"
        if head.failed_accounts:
            who += (
                f' · <span class="s3c-failed">{len(head.failed_accounts)} failed: '
                f"{_e(', '.join(head.failed_accounts))}</span>"
            )
    else:
        name = f" ({_e(head.account_name)})" if head.account_name else ""
        who = f'Account <span class="s3c-account">{_e(head.account_id)}</span>{name}'
    state = (
        "complete"
        if head.complete
        else f'<span class="s3c-incomplete">INCOMPLETE: {_e("; ".join(head.incomplete_because))}'
        "</span>"
    )
    who += (
        f" · regions {_e(', '.join(head.regions))} · profile {_e(head.profile)}"
        f' · run <span class="s3c-run">{_e(head.run_id)}</span>'
        f' on <span class="s3c-date">{_e(head.run_date)}</span> · {state}'
    )
    b = head.buckets
    tiles = [
        _tile("compliant", f"{head.share('compliant'):.0%}", f"{b['compliant']} of {b['total']}"),
        _tile("non-compliant", str(b["non_compliant"]), f"{head.share('non_compliant'):.0%}"),
        _tile("unknown", str(b["unknown"]), f"{head.share('unknown'):.0%}"),
        _tile("accepted", str(b["accepted"]), f"{head.share('accepted'):.0%}"),
        _tile("public", str(head.public_buckets), "buckets", "s3c-critical"),
    ]
    severity = [
        _tile(f"{s} FAIL", str(n), css="s3c-critical" if s == "critical" else "")
        for s, n in head.fails_by_severity.items()
    ] + [_tile("ERROR", str(head.errors), "not evaluated")]
    if head.changes is None:
        since = '<p class="s3c-since">First run: no earlier run to compare with.</p>'
    else:
        counts = " · ".join(
            f'<span data-kind="{_e(k)}"><b>{n}</b> {_e(k)}</span>' for k, n in head.changes.items()
        )
        since = (
            f'<p class="s3c-since">Since run {_e(head.previous_run)}: {counts} '
            f'(<a href="#{CHANGES_SECTION}">every change</a>)</p>'
        )
    rows = "".join(
        f'<tr><td><a href="#{_e(w["anchor"])}">{_e(w["bucket"])}</a></td>{_worst_cells(w)}</tr>'
        for w in head.worst
    )
    worst = (
        '<table class="s3c-worst"><thead><tr><th>worst buckets</th><th>account</th>'
        f"<th>region</th><th>severity</th><th>violations</th></tr></thead><tbody>{rows}"
        "</tbody></table>"
        if rows
        else "<p>No bucket fails a check.</p>"
    )
    return (
        f'{_STYLE}<section class="s3c-headline" id="headline" aria-label="Headline">'
        f'<h2>S3 compliance</h2><p class="s3c-who">{who}</p>'
        f'<div class="s3c-tiles">{"".join(tiles)}</div>'
        f'<div class="s3c-tiles">{"".join(severity)}</div>{since}{worst}</section>'
    )


def worst_table_html(head: Headline) -> str:
    """The worst buckets again, in the "Buckets that fail" section, each row with the id the
    headline links to (an interactive table's rows cannot be linked to: they are drawn a page at
    a time)."""
    if not head.worst:
        return "<p>No bucket fails a check.</p>"
    rows = "".join(
        f'<tr id="{_e(w["anchor"])}"><td>{_e(w["bucket"])}</td>{_worst_cells(w)}</tr>'
        for w in head.worst
    )
    return (
        '<table class="s3c-worst-table"><caption>The worst buckets (severity, then violations)'
        "</caption><thead><tr><th>bucket</th><th>account</th><th>region</th><th>severity</th>"
        f"<th>violations</th></tr></thead><tbody>{rows}</tbody></table>"
    )
