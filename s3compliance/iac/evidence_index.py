"""What the scan read of each bucket, from its findings: the one index both stages plan from.

Stage one (:mod:`s3compliance.iac.pulumi_import`) declares each bucket's configuration as read;
stage two (:mod:`s3compliance.iac.remediation`) changes it. Both need the same per-bucket view of
the evidence, so it lives here, below both, and neither imports the other for it.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from s3compliance.checks.documents import DOCUMENTS


def evidence_by_bucket(findings: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Per bucket: the documents the scan read (value) and those it could not (error code)."""
    api_docs: dict[str, list[str]] = {}
    for name, spec in DOCUMENTS.items():
        api_docs.setdefault(spec.api, []).append(name)
    out: dict[str, dict[str, Any]] = {}
    for row in findings.itertuples(index=False):
        entry = out.setdefault(row.bucket, {"read": {}, "errors": {}})
        evidence = row.evidence or {}
        if "error" in evidence:
            for doc in api_docs.get(evidence["error"].get("api", ""), []):
                entry["errors"][doc] = row.error_code
        else:
            entry["read"].update({k: v for k, v in evidence.items() if k != "analysis"})
    return out
