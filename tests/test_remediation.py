"""Remediation as code: the plan, the program's stage two, and the closed loop back to the checks.

The closed loop: the generated program runs under Pulumi's mocks with ``s3compliance:remediate``
set; each declared resource is turned back into the S3 API document the scanner reads (the import
converters in reverse), and the checks run on those documents. Expectations are the checks' own
rules (spec: checks.md), not the plan's output: a remediated violation must PASS, and every input
that no asked-for check touches must equal what the scan read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pulumi
import pytest
from test_pulumi_import import _camel_to_snake, run_folder

from s3compliance.checks import CATALOGUE
from s3compliance.checks.policy import public_statements
from s3compliance.checks.registry import Settings
from s3compliance.iac import pulumi_import as pi
from s3compliance.iac import remediation as rem
from s3compliance.testing.demo import demo_account, demo_params, run_demo

MISSION = ["versioning", "encryption", "lifecycle", "public_access", "cloudwatch_metrics"]
DOCUMENT_OF_TYPE = {t: doc for doc, (t, _c, _s, _f) in pi.SUB_RESOURCES.items()}
DOCUMENT_OF_TYPE["aws:s3/bucketMetric:BucketMetric"] = "metrics"


@pytest.fixture(scope="module")
def demo():
    return run_demo(demo_params(max_workers=8), progress=False)


@pytest.fixture(scope="module")
def imports(demo) -> pd.DataFrame:
    return pi.plan_imports(demo.findings, demo.buckets)


@pytest.fixture(scope="module")
def mission_plan(demo) -> pd.DataFrame:
    return rem.plan(demo.findings, demo.buckets, MISSION)


def run_program(
    imports: pd.DataFrame,
    folder: Path,
    remediation: pi.Remediation | None = None,
    config: dict[str, Any] | None = None,
) -> list[pulumi.runtime.MockResourceArgs]:
    pi.write_pulumi_folder(imports, folder, remediation=remediation)
    return run_folder(folder, config)[0].created


def declared(created) -> dict[str, tuple[str, dict[str, Any]]]:
    return {a.name: (a.typ, _camel_to_snake(dict(a.inputs))) for a in created}


def evidence_after(demo, created) -> dict[str, dict[str, Any]]:
    """Per flagged bucket: what the scan read, with every declared resource's document in
    place of the scanned one (metrics: the declared configurations added to the scanned)."""
    read = {b: e["read"] for b, e in pi.evidence_by_bucket(demo.findings).items()}
    out = {b: dict(docs) for b, docs in read.items()}
    for typ, inputs in declared(created).values():
        document = DOCUMENT_OF_TYPE.get(typ)
        if document is None:
            continue
        bucket = inputs["bucket"]
        value = rem.document_of(document, inputs)
        if document == "metrics":
            out[bucket]["metrics"] = [*(read[bucket].get("metrics") or []), value]
        else:
            out[bucket][document] = value
    return out


def verdicts(evidence: dict[str, dict[str, Any]], checks: list[str]) -> dict[tuple[str, str], bool]:
    settings = Settings()
    got = {}
    for bucket, docs in evidence.items():
        for check_id in checks:
            check = CATALOGUE[check_id]
            ev = {d: docs.get(d) for d in check.documents}
            # IsPublic is S3's reading of the policy it stores: there is none under mocks, so the
            # policy alone decides (the moto test below reads S3's own answer)
            ev.pop("policy_status", None)
            ev.setdefault("policy_status", None)
            got[(bucket, check_id)] = check.evaluate(ev, settings).passed
    return got


def test_plan_rows_follow_the_findings(demo, mission_plan) -> None:
    flagged = set(demo.buckets.loc[demo.buckets["status"] == "non_compliant", "bucket"])
    assert set(mission_plan["bucket"]) <= flagged
    failed = demo.findings[demo.findings["status"] == "FAIL"]
    failed = failed[failed["bucket"].isin(flagged) & failed["check_id"].isin(MISSION)]
    planned = mission_plan[["bucket", "check_id"]].drop_duplicates()
    assert set(map(tuple, planned.to_numpy())) == set(
        map(tuple, failed[["bucket", "check_id"]].to_numpy())
    )
    # the demo's two buckets whose policy the auditor may not read: ERROR, no fix guessed
    skipped = mission_plan[mission_plan["change"] == "skipped"]
    assert skipped.empty  # they are unknown, not flagged: planning starts from flagged buckets
    assert set(mission_plan["change"]) == {"create", "update"}


def test_stage_one_is_unchanged_when_the_stack_asks_for_nothing(imports, mission_plan, tmp_path):
    before = declared(run_program(imports, tmp_path / "a"))
    settings = rem.RemediationSettings()
    after = declared(run_program(imports, tmp_path / "b", pi.Remediation(mission_plan, settings)))
    assert after == before
    empty = declared(
        run_program(
            imports, tmp_path / "c", pi.Remediation(mission_plan, settings), {"remediate": []}
        )
    )
    assert empty == before


def test_closed_loop_every_remediated_violation_passes(demo, imports, mission_plan, tmp_path):
    remediation = pi.Remediation(mission_plan, rem.RemediationSettings())
    created = run_program(imports, tmp_path / "p", remediation, {"remediate": MISSION})
    got = verdicts(evidence_after(demo, created), MISSION)
    fixed = mission_plan[mission_plan["change"].isin(["create", "update"])]
    still = [
        (b, c)
        for b, c in set(zip(fixed["bucket"], fixed["check_id"], strict=True))
        if not got[(b, c)]
    ]
    assert still == []
    # every flagged bucket is compliant on the five checks (the demo has no manual case for them)
    flagged = demo.buckets.loc[demo.buckets["status"] == "non_compliant", "bucket"]
    assert all(got[(b, c)] for b in flagged for c in MISSION)


def test_checks_not_asked_for_keep_every_input_as_scanned(imports, mission_plan, tmp_path):
    remediation = pi.Remediation(mission_plan, rem.RemediationSettings())
    stage_one = declared(run_program(imports, tmp_path / "a"))
    partial = declared(
        run_program(
            imports, tmp_path / "b", remediation, {"remediate": ["versioning", "lifecycle"]}
        )
    )
    touched = {
        "aws:s3/bucketVersioning:BucketVersioning",
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    }
    for name, (typ, inputs) in stage_one.items():
        if typ not in touched:
            assert partial[name] == (typ, inputs), name
    # and the touched ones keep what the fix does not change: existing lifecycle rules stay
    for name, (typ, inputs) in stage_one.items():
        if typ.endswith("BucketLifecycleConfiguration"):
            kept = [r for r in partial[name][1]["rules"] if r["id"] != rem.RULE_ID]
            assert kept == inputs["rules"], name
    created = set(partial) - set(stage_one)
    assert created and all(partial[n][0] in touched for n in created)


def test_public_statements_gain_the_account_condition_and_nothing_else(demo, mission_plan) -> None:
    policies = mission_plan[mission_plan["document"] == "policy"]
    assert len(policies) == 23
    for r in policies.itertuples(index=False):
        before, after = r.before["Statement"], r.after["Statement"]
        assert len(after) == len(before)  # no statement dropped, the policy never empty
        for old, new in zip(before, after, strict=True):
            if new == old:
                continue
            added = new["Condition"]["StringEquals"]["aws:PrincipalAccount"]
            assert added == r.account_id
            rest = json.loads(json.dumps(new))
            del rest["Condition"]["StringEquals"]["aws:PrincipalAccount"]
            if not rest["Condition"]["StringEquals"]:
                del rest["Condition"]["StringEquals"]
            if not rest["Condition"]:
                del rest["Condition"]
            assert rest == old  # only the condition was added
    # Block Public Access comes after the policy: S3 refuses a public policy once it is on
    pab = mission_plan[mission_plan["document"] == "public_access_block"]
    assert set(pab["bucket"]) == set(policies["bucket"])
    assert all(r.after == rem.PAB_ON for r in pab.itertuples(index=False))


def test_program_orders_block_public_access_after_the_policy(imports, mission_plan, tmp_path):
    remediation = pi.Remediation(mission_plan, rem.RemediationSettings())
    program = pi.render_program(imports, remediation=remediation)
    first = mission_plan[mission_plan["document"] == "policy"].iloc[0]
    name = pi.logical_name(first.bucket)
    assert f"depends_on=[RESOURCES[{name + '-policy'!r}]]" in program


def test_lifecycle_settings(demo) -> None:
    versioned = rem.fixed_lifecycle([], rem.RemediationSettings(), versioned=True)[0]
    assert versioned == {
        "ID": "s3compliance-max-age",
        "Status": "Enabled",
        "Filter": {},
        "Transitions": [{"Days": 90, "StorageClass": "GLACIER_IR"}],
        "NoncurrentVersionTransitions": [{"NoncurrentDays": 90, "StorageClass": "GLACIER_IR"}],
    }
    expire = rem.RemediationSettings(lifecycle_action="expire", lifecycle_max_age_days=30)
    rule = rem.max_age_rule(expire, versioned=False)
    assert rule["Expiration"] == {"Days": 30} and "Transitions" not in rule
    ours = {"ID": rem.RULE_ID, "Status": "Disabled"}
    kept = {"ID": "logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"}}
    assert rem.fixed_lifecycle([kept, ours], expire, False) == [
        kept,
        rem.max_age_rule(expire, False),
    ]
    with pytest.raises(rem.RemediationError, match="lifecycleAction must be transition or expire"):
        rem.RemediationSettings(lifecycle_action="delete")
    with pytest.raises(rem.RemediationError, match="lifecycleStorageClass must be one of"):
        rem.RemediationSettings(lifecycle_storage_class="TAPE")
    with pytest.raises(rem.RemediationError, match="before 30 days"):
        rem.RemediationSettings(lifecycle_storage_class="STANDARD_IA", lifecycle_max_age_days=7)


def test_encryption_with_a_kms_key_and_an_algorithm_not_allowed(demo) -> None:
    kms = rem.RemediationSettings(kms_key_id="arn:aws:kms:us-east-1:123456789012:key/k")
    plan = rem.plan(demo.findings, demo.buckets, ["encryption"], kms)
    after = plan.iloc[0]["after"]["Rules"][0]["ApplyServerSideEncryptionByDefault"]
    assert after == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": kms.kms_key_id}
    only_kms = rem.RemediationSettings(allowed_sse_algorithms=("aws:kms",))
    manual = rem.plan(demo.findings, demo.buckets, ["encryption"], only_kms)
    assert set(manual["change"]) == {"manual"}
    assert "set kmsKeyId" in manual.iloc[0]["note"]


def test_unknown_and_manual_checks(demo) -> None:
    with pytest.raises(rem.RemediationError, match=r"unknown check id\(s\) 'versoning'"):
        rem.plan(demo.findings, demo.buckets, "versoning")
    assert rem.check_ids(" versioning, ,lifecycle,versioning") == ["versioning", "lifecycle"]
    # mfa_delete is not run by the mission profile: said, not guessed
    plan = rem.plan(demo.findings, demo.buckets, ["mfa_delete"])
    assert set(plan["change"]) == {"skipped"} and set(plan["note"]) == {"not run by this scan"}


def test_a_changed_setting_stops_the_program(imports, mission_plan, tmp_path) -> None:
    remediation = pi.Remediation(mission_plan, rem.RemediationSettings())
    with pytest.raises(
        ValueError, match="s3compliance:lifecycleAction is 'expire', but this program"
    ):
        run_program(
            imports,
            tmp_path / "a",
            remediation,
            {"remediate": MISSION, "lifecycleAction": "expire"},
        )
    with pytest.raises(ValueError, match="names checks with no fix in this program: replication"):
        run_program(imports, tmp_path / "b", remediation, {"remediate": ["replication"]})


def test_after_documents_applied_with_boto3_then_rescanned(mission_plan) -> None:
    """The plan's after documents written to a fresh demo account (a test helper: the product
    writes only through Pulumi), then a new scan: the five checks pass on every flagged bucket,
    objects and tags untouched."""
    from s3compliance.scan.aws import Clients
    from s3compliance.scan.run import run_scan

    params = demo_params(max_workers=8)
    with demo_account() as session:
        s3 = session.client("s3", region_name="us-east-1")
        flagged = sorted(set(mission_plan["bucket"]))
        for bucket in flagged[:5]:
            s3.put_object(Bucket=bucket, Key="keep/me.txt", Body=b"data")
        tags_before = {b: _tags(s3, b) for b in flagged}
        for r in mission_plan[mission_plan["change"].isin(["create", "update"])].itertuples():
            _apply(s3, r.bucket, r.document, r.after)
        result = run_scan(params, clients=Clients(session, endpoint_url=None, max_workers=8))
        for bucket in flagged[:5]:
            assert s3.get_object(Bucket=bucket, Key="keep/me.txt")["Body"].read() == b"data"
        assert {b: _tags(s3, b) for b in flagged} == tags_before
    findings = result.findings.set_index(["bucket", "check_id"])
    for bucket in flagged:
        for check in MISSION:
            assert findings.loc[(bucket, check), "status"] == "PASS", (bucket, check)


def _tags(s3, bucket: str) -> list:
    try:
        return s3.get_bucket_tagging(Bucket=bucket)["TagSet"]
    except s3.exceptions.ClientError:
        return []


def _apply(s3, bucket: str, document: str, after: Any) -> None:
    if document == "versioning":
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration=after)
    elif document == "encryption":
        s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=after)
    elif document == "lifecycle":
        s3.put_bucket_lifecycle_configuration(
            Bucket=bucket, LifecycleConfiguration={"Rules": after}
        )
    elif document == "policy":
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(after))
    elif document == "public_access_block":
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=after)
    else:
        s3.put_bucket_metrics_configuration(
            Bucket=bucket, Id=after["Id"], MetricsConfiguration=after
        )


@pytest.fixture(scope="module")
def demo_all():
    return run_demo(demo_params(profile="all", max_workers=8), progress=False)


def test_profile_all_block_public_access_and_manual_checks(demo_all, tmp_path) -> None:
    """With every document read, an existing Block Public Access setting is imported, then
    updated by either check that asks for it; checks without a declarative fix are manual."""
    checks = [*MISSION, "block_public_access"]
    plan = rem.plan(demo_all.findings, demo_all.buckets, [*checks, "mfa_delete", "public_acl"])
    manual = plan[plan["change"] == "manual"].groupby("check_id")["note"].first()
    assert manual["mfa_delete"] == rem.MANUAL["mfa_delete"]
    assert manual["public_acl"] == "no declarative fix for this check"
    imports = pi.plan_imports(demo_all.findings, demo_all.buckets)
    remediation = pi.Remediation(plan, rem.RemediationSettings())
    created = run_program(
        imports, tmp_path / "p", remediation, {"remediate": ["block_public_access"]}
    )
    got = verdicts(evidence_after(demo_all, created), ["block_public_access"])
    fixed = plan[
        (plan["check_id"] == "block_public_access") & plan["change"].isin(["create", "update"])
    ]
    assert fixed["bucket"].nunique() > 0
    assert all(got[(b, "block_public_access")] for b in fixed["bucket"])
    # one resource for both checks: asking for public_access alone turns the same flags on
    program = pi.render_program(imports, remediation=remediation)
    assert "['public_access', 'block_public_access']" in program or (
        "['block_public_access', 'public_access']" in program
    )


def test_an_existing_block_public_access_is_imported_then_updated(account, params, tmp_path):
    """A public bucket with a partial Block Public Access setting: stage one imports it as it
    is, stage two (either check) declares all four flags on, after the rewritten policy."""
    from dataclasses import replace

    from s3compliance.scan.run import run_scan

    account.bucket("open-door")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Open",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::open-door/*",
            }
        ],
    }
    account.s3.put_bucket_policy(Bucket="open-door", Policy=json.dumps(policy))
    partial = {"BlockPublicAcls": True, "IgnorePublicAcls": False}
    account.s3.put_public_access_block(Bucket="open-door", PublicAccessBlockConfiguration=partial)
    result = run_scan(
        replace(params, profile="all"), clients=account.clients(), sleep=lambda _s: None
    )
    plan = rem.plan(result.findings, result.buckets, ["public_access", "block_public_access"])
    rows = plan.set_index(["check_id", "document"])
    assert rows.loc[("public_access", "policy"), "change"] == "update"
    assert rows.loc[("public_access", "public_access_block"), "change"] == "update"
    assert rows.loc[("block_public_access", "public_access_block"), "after"] == rem.PAB_ON
    imports = pi.plan_imports(result.findings, result.buckets)
    remediation = pi.Remediation(plan, rem.RemediationSettings())
    stage_one = declared(run_program(imports, tmp_path / "a", remediation))
    assert stage_one["open-door-public-access-block"][1]["ignore_public_acls"] is False
    for asked in (["public_access"], ["block_public_access"]):
        created = declared(
            run_program(imports, tmp_path / asked[0], remediation, {"remediate": asked})
        )
        flags = created["open-door-public-access-block"][1]
        assert all(
            flags[k] is True
            for k in (
                "block_public_acls",
                "ignore_public_acls",
                "block_public_policy",
                "restrict_public_buckets",
            )
        )
    program = (tmp_path / "a" / "__main__.py").read_text()
    after_policy = "fix(depends_on=[RESOURCES['open-door-policy']])"
    assert f"pulumi.ResourceOptions.merge(adopt('open-door'), {after_policy})" in program


def test_cli_remediate_plan(demo, tmp_path, capsys, monkeypatch) -> None:
    from s3compliance.cli import EXIT_OK, EXIT_USAGE, main
    from s3compliance.outputs.report import write_report

    run = write_report(demo, tmp_path, "r")
    findings = str(run / "findings.json")
    monkeypatch.chdir(tmp_path)
    program_dir = tmp_path / "pulumi-r"  # beside the sealed run folder, never into it
    args = ["remediate-plan", "--findings", findings, "--checks", "lifecycle,encryption"]
    assert main([*args, "--lifecycle-action", "expire", "--kms-key-id", "alias/s3"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "Remediation of lifecycle, encryption: " in out
    assert """pulumi config set s3compliance:remediate '["lifecycle", "encryption"]'""" in out
    assert "pulumi config set s3compliance:kmsKeyId alias/s3" in out
    assert "pulumi config set s3compliance:lifecycleAction expire" in out
    written = pd.read_csv(program_dir / "remediation_plan.csv")
    assert set(written["check_id"]) == {"lifecycle", "encryption"}
    expired = written[written["document"] == "lifecycle"].iloc[0]["after"]
    assert '"Expiration":{"Days":90}' in expired
    readme = (program_dir / "README.md").read_text()
    assert "## Stage two: remediation (opt-in)" in readme
    program = (program_dir / "__main__.py").read_text()
    assert "FIXABLE = ['lifecycle', 'encryption']" in program
    assert main(["remediate-plan", "--findings", findings, "--checks", "versoning"]) == EXIT_USAGE
    assert "unknown check id(s) 'versoning'" in capsys.readouterr().err
    logs = ["--checks", "access_logging,mfa_delete", "--log-target-bucket", "demo-compliant-01"]
    assert main(["remediate-plan", "--findings", findings, *logs]) == EXIT_OK
    out = capsys.readouterr().out
    assert "pulumi config set s3compliance:logTargetBucket demo-compliant-01" in out
    assert """s3compliance:remediate '["access_logging"]'""" in out  # mfa_delete is manual
    assert "0 create, 0 update, 0 manual, " in out  # the mission profile did not run it
    bad = [*args, "--lifecycle-storage-class", "TAPE"]
    assert main(bad) == EXIT_USAGE
    assert "lifecycleStorageClass must be one of" in capsys.readouterr().err
    (tmp_path / "broken.json").write_text("{")
    broken = [
        "remediate-plan",
        "--findings",
        str(tmp_path / "broken.json"),
        "--checks",
        "lifecycle",
    ]
    assert main(broken) == EXIT_USAGE
    assert "cannot read the findings" in capsys.readouterr().err


def test_reverse_converters_refuse_an_unknown_document() -> None:
    with pytest.raises(ValueError, match="no document for 'acl'"):
        rem.document_of("acl", {})


def test_notebook_cell_when_remediation_is_off_and_on(demo) -> None:
    params = demo_params()
    plan = rem.plan_for_scan(demo.findings, demo.buckets, rem.settings_for(params))
    assert set(plan["check_id"]) == set(MISSION)  # block_public_access was not run: not planned
    said = rem.chosen(plan, [])
    assert said.startswith("Remediation is off (remediate: [])") and "versioning" in said
    table = rem.chosen(plan, ["versioning"])
    assert set(table["check_id"]) == {"versioning"}
    assert table.iloc[0]["after"].startswith("{")


def test_organization_runs_keep_each_accounts_provider(imports, mission_plan, tmp_path) -> None:
    """Created fixes go through the bucket's account provider, like the imported resources."""
    providers = pi.Providers("999999999999")  # the demo account is a member here
    pi.write_pulumi_folder(
        imports,
        tmp_path / "p",
        None,
        providers,
        pi.Remediation(mission_plan, rem.RemediationSettings()),
    )
    mocks, _ = run_folder(tmp_path / "p", {"remediate": ["versioning"]})
    created = [a for a in mocks.created if a.typ.endswith("BucketVersioning") and not a.resource_id]
    assert created and all("account-123456789012" in a.provider for a in created)


def one_bucket(*findings: tuple[str, str, dict[str, Any]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A flagged bucket 'b' with these (check, status, evidence) findings."""
    rows = [
        {"bucket": "b", "check_id": c, "status": s, "error_code": "", "evidence": e}
        for c, s, e in findings
    ]
    buckets = pd.DataFrame(
        [
            {
                "account_id": "111122223333",
                "bucket": "b",
                "region": "eu-west-1",
                "status": "non_compliant",
            }
        ]
    )
    return pd.DataFrame(rows), buckets


def test_edge_cases_of_each_fix() -> None:
    public = {
        "Sid": "P",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::b/*",
    }
    private = {**public, "Sid": "Mine", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}}
    policy = {"Version": "2012-10-17", "Statement": [private, public]}
    findings, buckets = one_bucket(
        ("versioning", "FAIL", {"versioning": {"Status": "Suspended", "MFADelete": "Enabled"}}),
        ("lifecycle", "FAIL", {"lifecycle": None}),
        (
            "cloudwatch_metrics",
            "FAIL",
            {"metrics": [{"Id": "EntireBucket", "Filter": {"Prefix": "a/"}}]},
        ),
        ("public_access", "FAIL", {"policy": policy, "policy_status": {"IsPublic": True}}),
    )
    plan = rem.plan(findings, buckets, MISSION).set_index(["check_id", "document"])
    # an MFA delete setting is kept (changing it needs the root user's MFA code)
    assert plan.loc[("versioning", "versioning"), "after"] == {
        "Status": "Enabled",
        "MFADelete": "Enabled",
    }
    # a versioned bucket (Suspended keeps noncurrent versions): they are covered too
    assert "NoncurrentVersionTransitions" in plan.loc[("lifecycle", "lifecycle"), "after"][0]
    # versioning not read by this plan's scan: current versions only, and it says so
    findings, buckets = one_bucket(("lifecycle", "FAIL", {"lifecycle": None}))
    lifecycle = rem.plan(findings, buckets, ["lifecycle"]).iloc[0]
    assert "NoncurrentVersionTransitions" not in lifecycle["after"][0]
    assert "noncurrent versions not covered" in lifecycle["note"]
    assert plan.loc[("cloudwatch_metrics", "metrics"), "change"] == "manual"
    # only the public statement is rewritten; the account's own statement is untouched
    after = plan.loc[("public_access", "policy"), "after"]["Statement"]
    assert after[0] == private and after[1]["Condition"] == {
        "StringEquals": {"aws:PrincipalAccount": "111122223333"}
    }
    assert plan.loc[("public_access", "policy"), "note"] == "statements rewritten: 'P'"
    # S3 says public and nothing reads as public, or there is no policy: a person decides
    cases = {
        "review by hand": {"policy": {"Version": "2012-10-17", "Statement": [private]}},
        "names no public statement": {"policy": None},
    }
    for said, evidence in cases.items():
        status = {"policy_status": {"IsPublic": True}}
        findings, buckets = one_bucket(("public_access", "FAIL", {**evidence, **status}))
        manual = rem.plan(findings, buckets, ["public_access"])
        assert list(manual["change"]) == ["manual"] and said in manual.iloc[0]["note"]


@pytest.mark.parametrize(
    "statement",
    [
        {"Principal": {"AWS": "arn:aws:iam::*:root"}},
        {"Principal": {"CanonicalUser": "*"}},
        {},  # an Allow with no principal
        {"Principal": "*", "Condition": {"IpAddress": {"aws:SourceIp": "0.0.0.0/1"}}},
    ],
    ids=["wildcard ARN", "canonical star", "no principal", "broad CIDR"],
)
def test_every_public_family_is_rewritten_to_not_public(statement: dict) -> None:
    """The rewritten policy is judged by the same evaluator: each family the evaluator reads as
    public comes out pinned to the owner, with the statement's own condition kept (ANDed)."""
    st = {"Sid": "P", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}
    policy = {"Version": "2012-10-17", "Statement": [{**st, **statement}]}
    assert public_statements(policy)
    findings, buckets = one_bucket(
        ("public_access", "FAIL", {"policy": policy, "policy_status": {"IsPublic": None}})
    )
    row = rem.plan(findings, buckets, ["public_access"]).iloc[0]
    assert (row["change"], row["note"]) == ("update", "statements rewritten: 'P'")
    assert public_statements(row["after"]) == []
    condition = row["after"]["Statement"][0]["Condition"]
    assert condition["StringEquals"] == {"aws:PrincipalAccount": "111122223333"}
    assert condition.get("IpAddress") == statement.get("Condition", {}).get("IpAddress")


@pytest.mark.parametrize("condition", ["nonsense", {"StringEquals": "nonsense"}])
def test_a_statement_that_cannot_be_pinned_is_left_to_a_person(condition: Any) -> None:
    """An unreadable Condition block cannot take the owner's condition: the rewrite would still
    read as public, so the plan is manual and names the statement."""
    st = {"Sid": "Odd", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}
    policy = {"Version": "2012-10-17", "Statement": {**st, "Condition": condition}}
    findings, buckets = one_bucket(
        ("public_access", "FAIL", {"policy": policy, "policy_status": {"IsPublic": True}})
    )
    rows = rem.plan(findings, buckets, ["public_access"])
    policy_row = rows[rows["document"] == "policy"].iloc[0]
    assert policy_row["change"] == "manual"
    assert "statements 'Odd' would still read as public" in policy_row["note"]


def test_reverse_shape_of_a_filter_with_tags() -> None:
    assert rem.api_shape({"and_": {"prefix": "a/", "object_size_greater_than": 9}}) == {
        "And": {"Prefix": "a/", "ObjectSizeGreaterThan": 9}
    }
    inputs = {"filter": {"and_": {"prefix": "logs/", "tags": {"team": "data"}}}, "id": "r"}
    assert rem.api_shape(inputs) == {
        "Filter": {"And": {"Prefix": "logs/", "Tags": [{"Key": "team", "Value": "data"}]}},
        "ID": "r",
    }


def test_cli_remediate_plan_with_nothing_to_fix(tmp_path, capsys) -> None:
    from conftest import minimal_report

    from s3compliance.cli import EXIT_OK, main

    path = tmp_path / "findings.json"
    path.write_text(json.dumps(minimal_report()))
    assert main(["remediate-plan", "--findings", str(path), "--checks", "versioning"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "0 create, 0 update, 0 manual, 0 skipped on 0 bucket(s)" in out


def test_extended_fixes_close_the_loop_or_say_who_must_act(demo_all, tmp_path) -> None:
    checks = ["kms_encryption", "acls_disabled", "access_logging"]
    settings = rem.RemediationSettings(
        kms_key_id="arn:aws:kms:us-east-1:123456789012:key/demo",
        log_target_bucket="demo-compliant-01",
    )
    plan = rem.plan(demo_all.findings, demo_all.buckets, checks, settings)
    # S3 refuses BucketOwnerEnforced while the ACL grants to others: exactly the demo buckets
    # seeded with a canned ACL (public-read, authenticated-read) are left to a person, even the
    # dsse ones whose public ACL Block Public Access neutralises (the grant is still there)
    from s3compliance.testing.demo import FLEET, bucket_names

    granted = {
        n for kind in FLEET if kind.acl and kind.region == "us-east-1" for n in bucket_names(kind)
    }
    manual = plan[(plan["check_id"] == "acls_disabled") & (plan["change"] == "manual")]
    assert set(manual["bucket"]) == granted and len(granted) == 17
    assert all("move that access to the policy first" in n for n in manual["note"])
    imports = pi.plan_imports(demo_all.findings, demo_all.buckets)
    remediation = pi.Remediation(plan, settings, tuple(checks))
    created = run_program(imports, tmp_path / "p", remediation, {"remediate": checks})
    got = verdicts(evidence_after(demo_all, created), checks)
    fixed = plan[plan["change"].isin(["create", "update"])]
    assert len(fixed) > 100
    assert [
        (b, c) for b, c in zip(fixed["bucket"], fixed["check_id"], strict=True) if not got[(b, c)]
    ] == []
    logged = fixed[fixed["check_id"] == "access_logging"].iloc[0]
    assert logged["after"] == {
        "TargetBucket": "demo-compliant-01",
        "TargetPrefix": f"{logged['bucket']}/",
    }


def test_extended_fixes_without_what_a_person_must_choose() -> None:
    findings, buckets = one_bucket(
        ("kms_encryption", "FAIL", {"encryption": {"Rules": []}}),
        ("access_logging", "FAIL", {"logging": None}),
        ("acls_disabled", "FAIL", {"ownership": None}),
    )
    plan = rem.plan(findings, buckets, ["kms_encryption", "access_logging", "acls_disabled"])
    notes = dict(zip(plan["check_id"], plan["note"], strict=True))
    assert set(plan["change"]) == {"manual"}
    assert "needs kmsKeyId" in notes["kms_encryption"]
    assert "needs logTargetBucket" in notes["access_logging"]
    assert "the ACL was not read" in notes["acls_disabled"]
    elsewhere = pd.concat(
        [
            buckets,
            pd.DataFrame(
                [
                    {
                        "account_id": "111122223333",
                        "bucket": "logs",
                        "region": "us-east-1",
                        "status": "compliant",
                    }
                ]
            ),
        ]
    )
    for target, said in (
        ("logs", "is in us-east-1, not eu-west-1"),
        ("b", "the log target itself"),
        ("gone", "a region this scan did not see"),
    ):
        settings = rem.RemediationSettings(log_target_bucket=target)
        row = rem.plan(findings, elsewhere, ["access_logging"], settings).iloc[0]
        assert row["change"] == "manual" and said in row["note"], target


def test_ssl_only_and_public_access_share_one_policy(demo_all, tmp_path) -> None:
    """Each check alone, and both: the declared policy passes exactly the checks asked for,
    and keeps every statement it had."""
    checks = ["public_access", "ssl_only"]
    plan = rem.plan(demo_all.findings, demo_all.buckets, checks)
    imports = pi.plan_imports(demo_all.findings, demo_all.buckets)
    remediation = pi.Remediation(plan, rem.RemediationSettings(), tuple(checks))
    before = verdicts(
        evidence_after(demo_all, run_program(imports, tmp_path / "none", remediation)), checks
    )
    ssl = plan[(plan["check_id"] == "ssl_only") & plan["change"].isin(["create", "update"])]
    public = plan[(plan["check_id"] == "public_access") & (plan["document"] == "policy")]
    shared = set(ssl["bucket"]) & set(public["bucket"])
    assert shared and set(ssl["change"]) == {"create", "update"}
    for asked in (["ssl_only"], ["public_access"], checks):
        created = run_program(
            imports, tmp_path / "-".join(asked), remediation, {"remediate": asked}
        )
        got = verdicts(evidence_after(demo_all, created), checks)
        for bucket in shared:
            for check in checks:
                want = True if check in asked else before[(bucket, check)]
                assert got[(bucket, check)] == want, (asked, bucket, check)
        policies = {
            i["bucket"]: json.loads(i["policy"])
            for t, i in declared(created).values()
            if t.endswith("BucketPolicy")
        }
        for r in public.itertuples(index=False):
            assert len(policies[r.bucket]["Statement"]) == len(r.before["Statement"]) + (
                "ssl_only" in asked
            )


def test_cli_remediate_plan_keeps_the_runs_import_scope_and_alarm(tmp_path, capsys) -> None:
    """Re-planning stage two rewrites the program: stage one stays as the run made it."""
    from conftest import flagged_bucket, minimal_report

    from s3compliance.cli import EXIT_OK, main

    report = minimal_report(flagged_bucket("old-bucket"))
    report["parameters"] = {"alarm_threshold": 3, "import_scope": "flagged"}
    path = tmp_path / "findings.json"
    path.write_text(json.dumps(report))
    assert main(["remediate-plan", "--findings", str(path), "--checks", "versioning"]) == EXIT_OK
    assert "1 update, 0 manual" in capsys.readouterr().out
    program = (tmp_path / "pulumi" / "__main__.py").read_text()
    assert "aws.cloudwatch.MetricAlarm(" in program and "threshold=3," in program
