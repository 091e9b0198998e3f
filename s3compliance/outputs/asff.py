"""Findings as the AWS Security Finding Format (ASFF), for Security Hub's BatchImportFindings.

Built from the same rows as the OCSF file (:func:`s3compliance.outputs.contract.placed_findings`).
``Id`` is derived from the finding's stable ``finding_id``, so importing a later run *updates*
the finding Security Hub has, never duplicates it. Severity and types are also given in
``FindingProviderFields``: on an update Security Hub only takes them from there. No raw evidence
goes beyond ``Resources[].Details.AwsS3Bucket`` (what the evidence gives of it): a finding is
limited to 240 KB, and every finding is checked against :data:`ASFF_SCHEMA` and that limit
before anything is sent (botocore's model checks far less).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import jsonschema

from s3compliance.checks import CATALOGUE
from s3compliance.checks.frameworks import frameworks_for
from s3compliance.outputs.contract import Place, placed_findings

SCHEMA_VERSION = "2018-10-08"
MAX_FINDING_BYTES = 240 * 1024
TYPE_PREFIX = "Software and Configuration Checks/Industry and Regulatory Standards"
#: The type of each framework's controls, as Security Hub's own standards name them.
FRAMEWORK_TYPES = {
    "AWS-FSBP": "AWS-Foundational-Security-Best-Practices",
    "CIS": "CIS AWS Foundations Benchmark",
}
SEVERITY = {"critical": "CRITICAL", "high": "HIGH", "medium": "MEDIUM", "low": "LOW"}
COMPLIANCE = {"PASS": "PASSED", "FAIL": "FAILED", "ERROR": "NOT_AVAILABLE"}
ID_PREFIX = "s3compliance/"

_TEXT = {"type": "string", "minLength": 1}
_TIME = {"type": "string", "pattern": "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?Z$"}
#: What this project sends, checked before sending (Security Hub's own limits where it has them).
ASFF_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": [
        "SchemaVersion",
        "Id",
        "ProductArn",
        "GeneratorId",
        "AwsAccountId",
        "Types",
        "CreatedAt",
        "UpdatedAt",
        "Severity",
        "Title",
        "Description",
        "Resources",
        "Compliance",
        "RecordState",
    ],
    "properties": {
        "SchemaVersion": {"const": SCHEMA_VERSION},
        "Id": {**_TEXT, "maxLength": 512},
        "ProductArn": {"type": "string", "pattern": "^arn:aws[\\w-]*:securityhub:[\\w-]+:\\d{12}:"},
        "GeneratorId": {**_TEXT, "maxLength": 512},
        "AwsAccountId": {"type": "string", "pattern": "^\\d{12}$"},
        "Types": {"type": "array", "minItems": 1, "maxItems": 50, "items": _TEXT},
        "CreatedAt": _TIME,
        "UpdatedAt": _TIME,
        "FirstObservedAt": _TIME,
        "Severity": {
            "type": "object",
            "required": ["Label"],
            "properties": {"Label": {"enum": [*SEVERITY.values(), "INFORMATIONAL"]}},
        },
        "Title": {**_TEXT, "maxLength": 256},
        "Description": {**_TEXT, "maxLength": 1024},
        "Resources": {
            "type": "array",
            "minItems": 1,
            "maxItems": 32,
            "items": {
                "type": "object",
                "required": ["Type", "Id"],
                "properties": {"Type": _TEXT, "Id": _TEXT},
            },
        },
        "Compliance": {
            "type": "object",
            "required": ["Status"],
            "properties": {
                "Status": {"enum": [*COMPLIANCE.values(), "WARNING"]},
                "RelatedRequirements": {"type": "array", "maxItems": 32, "items": _TEXT},
            },
        },
        "RecordState": {"enum": ["ACTIVE", "ARCHIVED"]},
    },
}


class AsffInvalid(ValueError):
    """A finding that Security Hub would refuse (or that breaks this project's rules)."""


def asff_id(finding_id: str) -> str:
    """The Security Hub ``Id`` of a finding: the same on every run."""
    return ID_PREFIX + finding_id


def product_arn(partition: str, region: str, account_id: str) -> str:
    """The account's default product: an account imports only its own findings through it."""
    return f"arn:{partition}:securityhub:{region}:{account_id}:product/{account_id}/default"


def _types(requirements: list[str]) -> list[str]:
    named = {r.split(" ", 1)[0] for r in requirements}
    types = [f"{TYPE_PREFIX}/{label}" for fw, label in FRAMEWORK_TYPES.items() if fw in named]
    return types or [TYPE_PREFIX]


def bucket_details(evidence: Mapping[str, Any], owner: str) -> dict[str, Any]:
    """``Details.AwsS3Bucket`` from what the scan read (only the documents it holds)."""
    details: dict[str, Any] = {"OwnerAccountId": owner}
    encryption = evidence.get("encryption")
    if isinstance(encryption, dict) and encryption.get("Rules"):
        details["ServerSideEncryptionConfiguration"] = {
            "Rules": [
                {"ApplyServerSideEncryptionByDefault": rule["ApplyServerSideEncryptionByDefault"]}
                for rule in encryption["Rules"]
                if isinstance(rule, dict) and rule.get("ApplyServerSideEncryptionByDefault")
            ]
        }
    versioning = evidence.get("versioning")
    if isinstance(versioning, dict):
        details["BucketVersioningConfiguration"] = {
            "Status": versioning.get("Status", "Off"),
            "IsMfaDeleteEnabled": versioning.get("MFADelete") == "Enabled",
        }
    block = evidence.get("public_access_block")
    if isinstance(block, dict):
        details["PublicAccessBlockConfiguration"] = {
            k: bool(block.get(k, False))
            for k in (
                "BlockPublicAcls",
                "BlockPublicPolicy",
                "IgnorePublicAcls",
                "RestrictPublicBuckets",
            )
        }
    return details


def asff_finding(
    finding: dict[str, Any],
    place: Place,
    region: str,
    now: str,
    first_seen: str | None = None,
) -> dict[str, Any]:
    """One finding as ASFF. ``now``: the import's time; ``first_seen``: when the current FAIL
    streak began (from the history of run folders), else ``now``."""
    check_id = finding["check_id"]
    check = CATALOGUE.get(check_id)
    requirements = frameworks_for(check_id)
    status = finding["status"]
    severity = SEVERITY.get(finding.get("severity", ""), "INFORMATIONAL")
    label = "INFORMATIONAL" if status == "PASS" else severity
    types = _types(requirements)
    if place.bucket:
        resource: dict[str, Any] = {
            "Type": "AwsS3Bucket",
            "Id": place.bucket_arn,
            "Partition": place.partition,
            "Region": place.region or region,
            "Details": {
                "AwsS3Bucket": bucket_details(finding.get("evidence") or {}, place.account_id)
            },
        }
    else:
        resource = {
            "Type": "AwsAccount",
            "Id": f"AWS::::Account:{place.account_id}",
            "Partition": place.partition,
            "Region": region,
        }
    fields = {
        "s3compliance/finding_id": finding["finding_id"],
        "s3compliance/check_id": check_id,
        "s3compliance/status": status,
    }
    if finding.get("exception_id"):
        fields["s3compliance/exception_id"] = finding["exception_id"]
        fields["s3compliance/exception_expires"] = finding["exception_expires"]
    if finding.get("error_code"):
        fields["s3compliance/error_code"] = finding["error_code"]
    out: dict[str, Any] = {
        "SchemaVersion": SCHEMA_VERSION,
        "Id": asff_id(finding["finding_id"]),
        "ProductArn": product_arn(place.partition, region, place.account_id),
        "GeneratorId": check_id,
        "AwsAccountId": place.account_id,
        "Types": types,
        "CreatedAt": first_seen or now,
        "UpdatedAt": now,
        "FirstObservedAt": first_seen or now,
        "Severity": {"Label": label, "Original": severity},
        "FindingProviderFields": {
            "Severity": {"Label": label, "Original": severity},
            "Types": types,
        },
        "Title": (check.title if check else check_id)[:256],
        "Description": finding["reason"][:1024],
        "Compliance": {"Status": COMPLIANCE[status], "RelatedRequirements": requirements[:32]},
        "Resources": [resource],
        "ProductFields": fields,
        "RecordState": "ACTIVE",
    }
    if check is not None:
        out["Remediation"] = {"Recommendation": {"Text": check.remediation[:512]}}
    return out


def asff_findings(
    report: dict[str, Any], region: str, now: str, first_seen: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """Every finding of a (validated) report as ASFF, imported through ``region``;
    ``first_seen`` maps a ``finding_id`` to the start of its FAIL streak."""
    first_seen = first_seen or {}
    return [
        asff_finding(finding, place, region, now, first_seen.get(finding["finding_id"]))
        for finding, place in placed_findings(report)
    ]


def validate_asff(finding: dict[str, Any]) -> None:
    """Raise :class:`AsffInvalid` naming the finding and the first problem: a missing or
    mistyped field (:data:`ASFF_SCHEMA`), or a finding over 240 KB."""
    errors = sorted(
        jsonschema.Draft202012Validator(ASFF_SCHEMA).iter_errors(finding),
        key=lambda e: list(map(str, e.path)),
    )
    name = finding.get("Id", "?") if isinstance(finding, dict) else "?"
    if errors:
        first = errors[0]
        where = "/".join(map(str, first.absolute_path)) or "the top"
        raise AsffInvalid(f"finding {name}: {first.validator} at {where}: {first.message[:200]}")
    size = len(json.dumps(finding, separators=(",", ":")).encode("utf-8"))
    if size > MAX_FINDING_BYTES:
        raise AsffInvalid(f"finding {name}: {size} bytes, over Security Hub's 240 KB")
