"""The Security Hub step of a run: the state of the last import, ASFF, the plan, the writes.

``s3compliance securityhub``, ``scan`` and ``run`` (with ``securityhub: true``) and the notebook
call :func:`import_report` with a published run's report. What was imported last is kept in
``<output_dir>/.securityhub/state.json`` (outside the run folders, written atomically, shared by
every later run); a state file that cannot be read is refused in one line rather than guessed,
since a guessed state would archive or duplicate findings.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema

from s3compliance.actions import securityhub
from s3compliance.outputs import history
from s3compliance.outputs.asff import asff_findings, validate_asff
from s3compliance.outputs.runfolder import atomic_write_text
from s3compliance.params import Params
from s3compliance.scan.retry import RetryPolicy

STATE_FOLDER = ".securityhub"
#: What the state file must hold (it is read back as untrusted input, like a findings file).
STATE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["version", "findings"],
    "properties": {
        "version": {"const": securityhub.STATE_VERSION},
        "findings": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": [
                    "account_id",
                    "compliance",
                    "record_state",
                    "workflow",
                    "updated_at",
                    "finding",
                ],
                "properties": {
                    "account_id": {"type": "string", "pattern": "^\\d{12}$"},
                    "compliance": {"enum": ["PASSED", "FAILED", "NOT_AVAILABLE", "WARNING"]},
                    "record_state": {"enum": ["ACTIVE", "ARCHIVED"]},
                    "workflow": {"enum": ["NEW", "SUPPRESSED"]},
                    "updated_at": {"type": "string"},
                    "finding": {"type": "object", "required": ["Id", "ProductArn", "Resources"]},
                },
            },
        },
    },
}


class StateUnreadable(ValueError):
    """The state file exists but is not a state this version wrote: one line, exit 2."""


def state_path(output_dir: str | Path) -> Path:
    return Path(output_dir) / STATE_FOLDER / "state.json"


def read_state(output_dir: str | Path) -> dict[str, Any]:
    """The last import's state; an empty one before the first import."""
    path = state_path(output_dir)
    if not path.exists():
        return securityhub.empty_state()
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StateUnreadable(
            f"{path}: cannot read the Security Hub state ({type(exc).__name__}); restore it, or "
            "remove it to start over (findings of deleted buckets are then not archived)"
        ) from None
    errors = list(jsonschema.Draft202012Validator(STATE_SCHEMA).iter_errors(state))
    if errors:
        where = "/".join(map(str, errors[0].absolute_path)) or "the top"
        raise StateUnreadable(
            f"{path}: not a Security Hub state of version 1 ({errors[0].validator} at {where}); "
            "restore it, or remove it to start over"
        )
    return state


def first_seen(output_dir: str | Path) -> dict[str, str]:
    """When each open FAIL's current streak began (the finishing time of its first run), from
    the history of run folders: ASFF's ``FirstObservedAt`` is that, not today."""
    finished = {r.run_id: r.finished_at for r in history.complete_runs(output_dir)}
    opened = history.open_findings(output_dir)
    return {
        row.finding_id: finished.get(row.first_seen_run, f"{row.first_seen}T00:00:00Z")
        for row in opened.itertuples(index=False)
    }


def delta_buckets(report: dict[str, Any]) -> set[tuple[str, str]] | None:
    """A delta run's (account, bucket) pairs, rescanned or found deleted (None: a full run)."""
    run = report.get("run", {})
    if run.get("kind") != "delta":
        return None
    delta = run["delta"]
    return {
        (account, bucket)
        for part in ("buckets", "deleted_buckets")
        for account, names in delta[part].items()
        for bucket in names
    }


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class ImportResult:
    plan: securityhub.Plan
    outcome: securityhub.Outcome | None  # None: planned only

    def summary(self) -> str:
        counts = self.plan.counts()
        line = ", ".join(f"{n} {k}" for k, n in counts.items())
        if self.outcome is None:
            return f"Security Hub plan: {line} (nothing sent: add --apply)"
        written = f"{self.outcome.imported} imported, {self.outcome.updated} workflow(s) set"
        failed = self.outcome.failures
        tail = f", {len(failed)} FAILED: {'; '.join(failed[:3])}" if failed else ""
        return f"Security Hub: {line}; {written}{tail}"


def import_report(
    report: dict[str, Any],
    params: Params,
    client_for: Callable[[str], Any],
    apply: bool = False,
    now: str | None = None,
    retry: RetryPolicy | None = None,
) -> ImportResult:
    """Plan (and with ``apply``, send) the report's findings to Security Hub in the home region
    (or ``securityhub_region``), keeping the state under ``params.output_dir``."""
    now = now or utc_now()
    region = params.securityhub_region or params.home_region
    state = read_state(params.output_dir)
    findings = asff_findings(report, region, now, first_seen(params.output_dir))
    failed = {a["account_id"] for a in report.get("accounts", []) if a.get("status") != "scanned"}
    scanned = {f["AwsAccountId"] for f in findings} | {report["account_id"]}
    scanned |= {a["account_id"] for a in report.get("accounts", [])}
    plan = securityhub.plan_import(
        findings,
        state,
        now,
        scanned - failed,
        params.securityhub_include_passed,
        delta_buckets(report),
    )
    if not apply:
        return ImportResult(plan, None)
    retry = retry or RetryPolicy(params.retry_attempts, params.retry_max_wait_s)
    outcome = securityhub.send(plan, client_for, retry, validate_asff)
    kept = securityhub.state_after(plan, outcome, state)
    path = state_path(params.output_dir)
    atomic_write_text(path, json.dumps(kept, indent=1, sort_keys=True) + "\n")
    return ImportResult(plan, outcome)
