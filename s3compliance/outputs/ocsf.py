"""Findings as OCSF Compliance Findings (class 2003), built with ``py-ocsf-models``.

Security pipelines (Amazon Security Lake, Splunk, Prowler's own output) speak the Open
Cybersecurity Schema Framework. Every run folder holds ``findings.ocsf.json``: a JSON array of
one Compliance Finding per finding, converted from the findings report itself, so that
``s3compliance export`` of a ``findings.json`` gives byte for byte what the run wrote.

The mapping a SIEM rule can rely on:

==============  ===================  =======================================================
finding         ``status_id``        ``compliance.status_id``
==============  ===================  =======================================================
FAIL            New (1)              Fail (3)
FAIL, accepted  Suppressed (3)       Fail (3): the configuration is what it is
PASS            Resolved (4)         Pass (1)
ERROR           Other (99), status   Unknown (0), the AWS error code in ``status_detail``
==============  ===================  =======================================================

``py-ocsf-models``' Compliance Finding has no ``cloud`` field and its Compliance object no
``status`` / ``status_detail``, and pydantic drops unknown fields silently: the two models are
extended here (:class:`CloudComplianceFinding`, :class:`ComplianceWithStatus`) rather than
losing them. A finding's evidence goes into the resource's ``data``, as the JSON it is.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from py_ocsf_models import OCSF_VERSION
from py_ocsf_models.events.findings.activity_id import ActivityID
from py_ocsf_models.events.findings.compliance_finding import ComplianceFinding
from py_ocsf_models.events.findings.compliance_finding_type_id import ComplianceFindingTypeID
from py_ocsf_models.events.findings.severity_id import SeverityID
from py_ocsf_models.events.findings.status_id import StatusID
from py_ocsf_models.objects.account import Account, TypeID
from py_ocsf_models.objects.check import Check
from py_ocsf_models.objects.cloud import Cloud
from py_ocsf_models.objects.compliance import Compliance
from py_ocsf_models.objects.compliance_status import StatusID as ComplianceStatusID
from py_ocsf_models.objects.finding_info import FindingInformation
from py_ocsf_models.objects.metadata import Metadata
from py_ocsf_models.objects.organization import Organization
from py_ocsf_models.objects.product import Product
from py_ocsf_models.objects.remediation import Remediation
from py_ocsf_models.objects.resource_details import ResourceDetails
from py_ocsf_models.objects.user import User

from s3compliance import __version__
from s3compliance.checks import CATALOGUE
from s3compliance.checks.frameworks import FRAMEWORKS, frameworks_for
from s3compliance.outputs.contract import Place, placed_findings

PRODUCT = "s3compliance"
#: Our severities as OCSF's ``severity_id``.
SEVERITY = {
    "critical": SeverityID.Critical,
    "high": SeverityID.High,
    "medium": SeverityID.Medium,
    "low": SeverityID.Low,
    "none": SeverityID.Informational,
}
#: Our statuses as the compliance object's ``status_id``.
COMPLIANCE_STATUS = {
    "PASS": ComplianceStatusID.Pass,
    "FAIL": ComplianceStatusID.Fail,
    "ERROR": ComplianceStatusID.Unknown,
}
FINDING_TYPES = ["Software and Configuration Checks/Industry and Regulatory Standards"]


class ComplianceWithStatus(Compliance):
    """OCSF's compliance object with the ``status`` and ``status_detail`` the model leaves out."""

    status: str | None = None
    status_detail: str | None = None


class CloudComplianceFinding(ComplianceFinding):
    """A Compliance Finding with OCSF's ``cloud`` object (the model has none: without this
    subclass pydantic would drop it) and the extended compliance object."""

    cloud: Cloud | None = None
    compliance: ComplianceWithStatus


def _epoch_ms(timestamp: str) -> int:
    moment = datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _account(account_id: str, name: str) -> Account:
    return Account(name=name or account_id, type_id=TypeID.AWS_Account, uid=account_id)


def _owner(account: Account) -> User:
    """The resource's owner: the AWS account (OCSF user type Other, named as such)."""
    return User(name=account.name, uid=account.uid, type_id=99, type="AWS Account", account=account)


def _standards(requirements: list[str]) -> list[str]:
    """The titles of the frameworks the requirements belong to, in mapping order."""
    ids = {r.split(" ", 1)[0] for r in requirements}
    return [fw["title"] for fw_id, fw in FRAMEWORKS.items() if fw_id in ids]


def _status(finding: dict[str, Any]) -> tuple[StatusID, str, str]:
    """The finding's ``status_id``, ``status`` caption and ``status_detail``."""
    if finding["status"] == "ERROR":
        return StatusID.Other, "Error", finding.get("error_code", "")
    if finding["status"] == "PASS":
        return StatusID.Resolved, StatusID.Resolved.name, ""
    if finding.get("exception_id"):
        detail = f"accepted risk {finding['exception_id']} until {finding['exception_expires']}"
        return StatusID.Suppressed, StatusID.Suppressed.name, detail
    return StatusID.New, StatusID.New.name, ""


def compliance_finding(
    finding: dict[str, Any],
    place: Place,
    time_ms: int,
    tool_version: str,
    org_id: str = "",
) -> CloudComplianceFinding:
    """One finding of the report, at its place (account, bucket, ARN, region), as a Compliance
    Finding."""
    check_id = finding["check_id"]
    check = CATALOGUE.get(check_id)
    title = check.title if check else check_id
    requirements = frameworks_for(check_id)
    status_id, status, detail = _status(finding)
    compliance_status = COMPLIANCE_STATUS[finding["status"]]
    severity = finding.get("severity") or "none"
    account = _account(place.account_id, place.account_name)
    partition = place.partition
    if place.bucket:
        resource = ResourceDetails(
            uid=place.bucket_arn,
            name=place.bucket,
            type="AwsS3Bucket",
            region=place.region or None,
            cloud_partition=partition,
            owner=_owner(account),
            data={"evidence": finding.get("evidence", {})},
        )
    else:  # an account-level finding names the account
        resource = ResourceDetails(
            uid=place.account_id,
            name=account.name,
            type="AwsAccount",
            cloud_partition=partition,
            owner=_owner(account),
            data={"evidence": finding.get("evidence", {})},
        )
    organization = Organization(uid=org_id) if org_id else None
    return CloudComplianceFinding(
        class_name="Compliance Finding",
        activity_id=ActivityID.Create,
        activity_name=ActivityID.Create.name,
        type_uid=ComplianceFindingTypeID.Create,
        type_name=f"Compliance Finding: {ActivityID.Create.name}",
        time=time_ms,
        metadata=Metadata(
            product=Product(name=PRODUCT, vendor_name=PRODUCT, version=tool_version),
            profiles=["cloud"],
            event_code=check_id,
            version=OCSF_VERSION,
        ),
        finding_info=FindingInformation(
            uid=finding["finding_id"],
            title=title,
            desc=finding["reason"],
            types=FINDING_TYPES,
        ),
        remediation=Remediation(desc=check.remediation) if check else None,
        compliance=ComplianceWithStatus(
            status_id=compliance_status,
            status=compliance_status.name,
            status_detail=detail if finding["status"] == "ERROR" else None,
            requirements=requirements,
            standards=_standards(requirements),
            checks=[Check(uid=check_id, name=title, severity=severity.capitalize())],
        ),
        severity_id=SEVERITY.get(severity, SeverityID.Unknown),
        severity=severity.capitalize(),
        status_id=status_id,
        status=status,
        status_detail=detail or None,
        message=finding["reason"],
        resources=[resource],
        cloud=Cloud(
            provider="AWS",
            account=account,
            region=place.region or None,
            org=organization,
        ),
        unmapped=(
            {
                "exception_id": finding["exception_id"],
                "exception_expires": finding["exception_expires"],
            }
            if finding.get("exception_id")
            else None
        ),
    )


def ocsf_dict(finding: dict[str, Any], place: Place, time_ms: int, tool_version: str) -> dict:
    """One placed finding as the OCSF file holds it (JSON types, no null fields)."""
    return compliance_finding(finding, place, time_ms, tool_version, place.org_id).model_dump(
        mode="json", exclude_none=True
    )


def report_time_ms(report: dict[str, Any]) -> int:
    """The OCSF ``time`` of a report's findings: when it was generated, in epoch milliseconds."""
    return _epoch_ms(report["generated_at"])


def ocsf_findings(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Every finding of a (validated) findings report, bucket-level then account-level, as
    OCSF Compliance Finding dicts (JSON types, no null fields)."""
    time_ms = report_time_ms(report)
    version = report.get("tool_version", __version__)
    return [
        ocsf_dict(finding, place, time_ms, version) for finding, place in placed_findings(report)
    ]


def ocsf_json(findings: list[dict[str, Any]]) -> str:
    """``findings.ocsf.json``: the array of :func:`ocsf_findings`, as the run folder and
    ``s3compliance export`` write it."""
    return json.dumps(findings, indent=2, ensure_ascii=False) + "\n"
