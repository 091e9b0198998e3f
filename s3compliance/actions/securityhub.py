"""AWS Security Hub: import findings so that a re-run updates, a fix archives, and an accepted
risk is suppressed. Opt-in, planned first, idempotent.

What was last imported (ids, compliance, record state, workflow, time, and a compact copy to
archive from) is a *state* the caller keeps outside the run folders
(``output/.securityhub/state.json``): the next run knows what to archive without listing
Security Hub. This module plans from it and writes to Security Hub; it reads no file.

The lifecycle (docs/tasks/security-hub.md):

* FAIL and ERROR findings are imported (created, then updated: the ``Id`` is stable); a PASS
  only when it archives a finding imported earlier as FAILED or NOT_AVAILABLE (imported as
  PASSED with ``RecordState: ARCHIVED``), or with ``include_passed``;
* a finding imported earlier whose bucket is gone (its account scanned, the bucket not there)
  is re-imported ``ARCHIVED``;
* ``BatchImportFindings`` cannot change the workflow of a finding that exists: an accepted
  risk is set ``SUPPRESSED`` with ``BatchUpdateFindings``, and back to ``NEW`` when its exception
  has expired or was removed. Security Hub reopens NOTIFIED / RESOLVED findings whose
  compliance changes by itself, so those are left to it.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from botocore.exceptions import BotoCoreError, ClientError

from s3compliance.scan.aws import error_code
from s3compliance.scan.retry import RetryPolicy

log = logging.getLogger(__name__)

#: IAM actions the import needs, declared next to the code that calls them (see iam.py).
PERMISSIONS = ("securityhub:BatchImportFindings", "securityhub:BatchUpdateFindings")
BATCH = 100  # BatchImportFindings and BatchUpdateFindings take at most 100 findings a call
STATE_VERSION = 1
PLAN_COLUMNS = ["id", "account_id", "check_id", "resource", "compliance", "action", "workflow"]
_COMPACT = ("Details",)  # not kept in the state: re-imported from the run when it is there


class SecurityHubUnavailable(RuntimeError):
    """Security Hub is not enabled (or not reachable) in the account: one line, exit 1."""


@dataclass
class Plan:
    """What an import will do: the table people read, the findings to import and the
    workflow changes, and the state to keep once they are written."""

    table: pd.DataFrame
    imports: list[dict[str, Any]] = field(default_factory=list)
    workflows: list[dict[str, Any]] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        actions = self.table["action"].value_counts()
        workflows = self.table["workflow"].value_counts()
        return {
            "create": int(actions.get("create", 0)),
            "update": int(actions.get("update", 0)),
            "archive": int(actions.get("archive", 0)),
            "suppress": int(workflows.get("suppress", 0)),
            "unsuppress": int(workflows.get("unsuppress", 0)),
            "skip": int(actions.get("skip", 0)),
        }


def empty_state() -> dict[str, Any]:
    return {"version": STATE_VERSION, "findings": {}}


def _compact(finding: dict[str, Any]) -> dict[str, Any]:
    kept = copy.deepcopy(finding)
    for resource in kept.get("Resources", []):
        for key in _COMPACT:
            resource.pop(key, None)
    return kept


def _accepted(finding: dict[str, Any]) -> str:
    return str(finding.get("ProductFields", {}).get("s3compliance/exception_id", ""))


def _row(finding: dict[str, Any], action: str, workflow: str = "") -> dict[str, Any]:
    return {
        "id": finding["Id"],
        "account_id": finding["AwsAccountId"],
        "check_id": finding["GeneratorId"],
        "resource": finding["Resources"][0]["Id"],
        "compliance": finding["Compliance"]["Status"],
        "action": action,
        "workflow": workflow,
    }


def bucket_of_resource(resource_id: str) -> str:
    """The bucket an ASFF resource id names (``arn:<partition>:s3:::<bucket>``), else ""."""
    prefix, sep, bucket = resource_id.partition(":s3:::")
    return bucket if sep and prefix.startswith("arn:") else ""


def plan_import(
    findings: list[dict[str, Any]],
    state: dict[str, Any],
    now: str,
    scanned_accounts: Iterable[str],
    include_passed: bool = False,
    scanned_buckets: Collection[tuple[str, str]] | None = None,
) -> Plan:
    """Decide, from the run's ASFF findings and the state of the last import, what to create,
    update, archive, suppress and unsuppress. ``scanned_accounts``: the accounts the run did
    scan (a finding of an account it could not scan is never archived as gone).
    ``scanned_buckets`` (a delta run): the (account, bucket) pairs it rescanned or found
    deleted; only their findings can be archived as gone (the others were not looked at)."""
    known: dict[str, dict[str, Any]] = state.get("findings", {})
    rows, imports, workflows = [], [], []
    new_state = {"version": STATE_VERSION, "findings": copy.deepcopy(known)}
    seen = set()
    for finding in findings:
        seen.add(finding["Id"])
        before = known.get(finding["Id"])
        compliance = finding["Compliance"]["Status"]
        active_before = before is not None and before["record_state"] == "ACTIVE"
        if compliance == "PASSED" and not include_passed:
            if not (active_before and before["compliance"] != "PASSED"):
                rows.append(_row(finding, "skip"))
                continue
            finding = {**finding, "RecordState": "ARCHIVED"}
            action = "archive"
        else:
            action = "update" if before is not None else "create"
        workflow, note = "", ""
        exception = _accepted(finding)
        was_suppressed = before is not None and before.get("workflow") == "SUPPRESSED"
        if compliance == "FAILED" and exception and not was_suppressed:
            workflow = "suppress"
            expires = finding["ProductFields"].get("s3compliance/exception_expires", "")
            note = f"Accepted risk {exception} until {expires} (s3compliance exceptions file)."
        elif compliance == "FAILED" and not exception and was_suppressed:
            workflow, note = "unsuppress", "The accepted risk has expired or was removed."
        rows.append(_row(finding, action, workflow))
        imports.append(finding)
        if workflow:
            workflows.append(
                {
                    "Id": finding["Id"],
                    "ProductArn": finding["ProductArn"],
                    "AwsAccountId": finding["AwsAccountId"],
                    "Status": "SUPPRESSED" if workflow == "suppress" else "NEW",
                    "Note": note,
                }
            )
        if workflow == "suppress":
            status = "SUPPRESSED"
        elif workflow == "unsuppress":
            status = "NEW"
        else:
            status = before.get("workflow", "NEW") if before is not None else "NEW"
        new_state["findings"][finding["Id"]] = {
            "account_id": finding["AwsAccountId"],
            "compliance": compliance,
            "record_state": finding["RecordState"],
            "workflow": status,
            "updated_at": now,
            "finding": _compact(finding),
        }
    scanned = set(scanned_accounts)
    for finding_id, before in sorted(known.items()):
        if finding_id in seen or before["record_state"] != "ACTIVE":
            continue
        if before["account_id"] not in scanned:
            continue  # not scanned this time: nothing is known about it
        if (
            scanned_buckets is not None
            and (
                before["account_id"],
                bucket_of_resource(before["finding"]["Resources"][0]["Id"]),
            )
            not in scanned_buckets
        ):
            continue  # a delta run did not look at this bucket
        gone = {**before["finding"], "RecordState": "ARCHIVED", "UpdatedAt": now}
        rows.append(_row(gone, "archive"))
        imports.append(gone)
        new_state["findings"][finding_id] = {
            **before,
            "record_state": "ARCHIVED",
            "updated_at": now,
            "finding": gone,
        }
    table = pd.DataFrame(rows, columns=PLAN_COLUMNS)
    return Plan(table, imports, workflows, new_state)


@dataclass
class Outcome:
    """What was written, and every failure (never silently dropped)."""

    imported: int = 0
    updated: int = 0
    failures: list[str] = field(default_factory=list)


def _call(retry: RetryPolicy, fn: Callable[..., Any], **kwargs: Any) -> Any:
    try:
        return retry.call(fn, **kwargs)
    except ClientError as exc:
        if error_code(exc) == "InvalidAccessException":
            raise SecurityHubUnavailable(
                f"Security Hub is not enabled in this account and region ({exc})"
            ) from exc
        raise


def send(
    plan: Plan,
    client_for: Callable[[str], Any],
    retry: RetryPolicy,
    validate: Callable[[dict[str, Any]], None],
) -> Outcome:
    """Import the plan's findings (each account through its own client: the default product
    takes only the account's own findings), at most 100 a call, then change the workflows.
    ``validate`` checks each finding first; one that fails is a reported failure, not sent."""
    outcome = Outcome()
    by_account: dict[str, list[dict[str, Any]]] = {}
    for finding in plan.imports:
        try:
            validate(finding)
        except ValueError as exc:
            outcome.failures.append(f"{finding.get('Id', '?')}: Invalid: {exc}")
            continue
        by_account.setdefault(finding["AwsAccountId"], []).append(finding)
    for account_id, findings in sorted(by_account.items()):
        client = client_for(account_id)
        for start in range(0, len(findings), BATCH):
            batch = findings[start : start + BATCH]
            try:
                answer = _call(retry, client.batch_import_findings, Findings=batch)
            except (ClientError, BotoCoreError) as exc:
                outcome.failures.extend(f"{f['Id']}: {error_code(exc)}" for f in batch)
                continue
            outcome.imported += int(answer.get("SuccessCount", 0))
            outcome.failures.extend(
                f"{f.get('Id', '?')}: {f.get('ErrorCode', 'Failed')}"
                for f in answer.get("FailedFindings", [])
            )
    failed_ids = {f.split(":", 1)[0] for f in outcome.failures}
    workflows: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for change in plan.workflows:
        if change["Id"] in failed_ids:
            continue  # not imported: nothing to change
        key = (change["AwsAccountId"], change["Status"], change["Note"])
        workflows.setdefault(key, []).append(change)
    for (account_id, status, note), changes in sorted(workflows.items()):
        client = client_for(account_id)
        for start in range(0, len(changes), BATCH):
            batch = changes[start : start + BATCH]
            try:
                answer = _call(
                    retry,
                    client.batch_update_findings,
                    FindingIdentifiers=[
                        {"Id": c["Id"], "ProductArn": c["ProductArn"]} for c in batch
                    ],
                    Workflow={"Status": status},
                    Note={"Text": note, "UpdatedBy": "s3compliance"},
                )
            except (ClientError, BotoCoreError) as exc:
                outcome.failures.extend(f"{c['Id']}: {error_code(exc)}" for c in batch)
                continue
            outcome.updated += len(answer.get("ProcessedFindings", []))
            outcome.failures.extend(
                f"{u.get('FindingIdentifier', {}).get('Id', '?')}: {u.get('ErrorCode', 'Failed')}"
                for u in answer.get("UnprocessedFindings", [])
            )
    if outcome.failures:
        log.warning("securityhub: %d failure(s): %s", len(outcome.failures), outcome.failures[:5])
    return outcome


def state_after(plan: Plan, outcome: Outcome, previous: dict[str, Any]) -> dict[str, Any]:
    """The state to keep: the plan's, except that a finding whose import or workflow change
    failed keeps what was known before (the next run tries it again)."""
    failed = {f.split(":", 1)[0] for f in outcome.failures}
    kept = copy.deepcopy(plan.state)
    for finding_id in failed:
        if finding_id in previous.get("findings", {}):
            kept["findings"][finding_id] = copy.deepcopy(previous["findings"][finding_id])
        else:
            kept["findings"].pop(finding_id, None)
    return kept
