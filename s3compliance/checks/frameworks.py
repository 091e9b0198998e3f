"""Compliance frameworks as data: which checks answer which AWS Security Hub / CIS control.

The mappings live in ``mappings/*.json`` (control id -> title, check ids), like Prowler's
compliance files, so adding a framework is a data change. Findings carry the controls of their
check in the ``frameworks`` column; :func:`framework_summary` rolls findings up per control.
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


def _load() -> dict[str, dict[str, Any]]:
    folder = files("s3compliance.checks").joinpath("mappings")
    loaded = [
        json.loads(f.read_text())
        for f in sorted(folder.iterdir(), key=lambda f: f.name)
        if f.name.endswith(".json")
    ]
    return {data["id"]: data for data in loaded}


FRAMEWORKS = _load()
SUMMARY_COLUMNS = ["framework", "control", "title", "checks", "PASS", "FAIL", "ERROR", "pass_rate"]


def frameworks_for(check_id: str) -> list[str]:
    """``["AWS-FSBP S3.20", "CIS 2.1.2"]``: every control that maps to the check."""
    return [
        f"{fw_id} {control_id}"
        for fw_id, framework in FRAMEWORKS.items()
        for control_id, control in framework["controls"].items()
        if check_id in control["checks"]
    ]


def _control_key(control_id: str) -> tuple[int, ...]:
    return tuple(int(part) for part in control_id.replace("S3.", "").split("."))


_RANK = {"PASS": 0, "ERROR": 1, "FAIL": 2}


def framework_summary(every: pd.DataFrame) -> pd.DataFrame:
    """Per control whose checks ran: how many resources PASS, FAIL or are ERROR.

    ``every`` holds bucket and account findings together. A bucket (or, for account-level
    controls, the account) passes a control when every mapped check that ran passed on it, fails
    when any failed, and is ERROR otherwise.
    """
    ran = set(every["check_id"])
    rank = every["status"].map(_RANK)
    rows = []
    for fw_id, framework in FRAMEWORKS.items():
        for control_id in sorted(framework["controls"], key=_control_key):
            control = framework["controls"][control_id]
            checks = [c for c in control["checks"] if c in ran]
            if not checks:
                continue
            mine = every["check_id"].isin(checks)
            # the worst status of each resource: FAIL over ERROR over PASS (one vector step,
            # not a Python call per resource: a large scan has 100,000 of them)
            worst = rank[mine].groupby(every["bucket"][mine]).max()
            counts = {s: int((worst == n).sum()) for s, n in _RANK.items()}
            total = sum(counts.values())
            rows.append(
                {
                    "framework": fw_id,
                    "control": control_id,
                    "title": control["title"],
                    "checks": ", ".join(checks),
                    **counts,
                    "pass_rate": round(counts["PASS"] / total, 3) if total else 0.0,
                }
            )
    import pandas as pd  # here: the catalogue (and `--help`) need no pandas

    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
