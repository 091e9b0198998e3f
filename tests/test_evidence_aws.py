"""Evidence on AWS (moto): KMS signing and verification, the write-once archive.

moto does not enforce checksums nor compliance-mode retention, so these tests assert the
requests made (the parameters botocore was asked to send) and what moto reports back
(``HeadObject``'s ``ObjectLockMode`` / ``ObjectLockRetainUntilDate``; moto has no
``GetObjectRetention``), not S3's enforcement. moto's ``Sign`` ignores ``MessageType: DIGEST``:
the signed message is the RAW hex digest anyway. moto's ``Verify`` answers an invalid signature
with ``SignatureValid: false`` where KMS raises ``KMSInvalidSignatureException``: both are read
as invalid.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from test_evidence import publish

from s3compliance.actions.archive import (
    PERMISSIONS,
    ArchiveRefused,
    ArchiveUnavailable,
    Entry,
    archive_run,
    bucket_state,
    parse_target,
)
from s3compliance.cli import main
from s3compliance.cli.common import EXIT_FAILURE, EXIT_FINDINGS, EXIT_OK, EXIT_USAGE
from s3compliance.iac.iam import OPERATION_PERMISSIONS, iam_policy
from s3compliance.outputs.evidence_archive import archive_folder
from s3compliance.outputs.signing import KmsSigner, SigningError
from s3compliance.params import Params
from s3compliance.scan.retry import RetryPolicy

ARCHIVE = "evidence-archive"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


# --- KMS ----------------------------------------------------------------------------------------


@pytest.fixture(params=["ECC_NIST_P256", "RSA_2048"])
def kms_key(request, account):
    kms = account.session.client("kms", region_name="us-east-1")
    key = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec=request.param)["KeyMetadata"]
    return kms, key


def test_a_kms_key_signs_the_raw_hex_digest_and_both_verifications_agree(
    kms_key, tmp_path: Path
) -> None:
    kms, key = kms_key
    sent: list[dict] = []
    kms.meta.events.register(
        "provide-client-params.kms.Sign", lambda params, **_: sent.append(params)
    )
    signer = KmsSigner(kms, key["KeyId"]).prepare()
    expected_algorithm = {"ECC_NIST_P256": "ECDSA_SHA_256", "RSA_2048": "RSASSA_PKCS1_V1_5_SHA_256"}
    assert signer.algorithm == expected_algorithm[key["KeySpec"]]
    folder = publish(tmp_path / "out", "a", signer)
    digest = sha((folder / "manifest.json").read_bytes())
    assert sent == [
        {
            "KeyId": sent[0]["KeyId"],  # GetPublicKey's KeyId: the ARN on AWS, the id on moto
            "Message": digest.encode(),
            "MessageType": "RAW",
            "SigningAlgorithm": signer.algorithm,
        }
    ]
    sig = json.loads((folder / "manifest.sig.json").read_text())
    assert sent[0]["KeyId"] in (key["Arn"], key["KeyId"])
    # the signature names the key by ARN, as Sign answers
    assert (sig["key"], sig["message"], sig["algorithm"]) == (key["Arn"], digest, signer.algorithm)
    # offline, with the public key KMS hands out and cryptography alone
    der = kms.get_public_key(KeyId=key["KeyId"])["PublicKey"]
    public = serialization.load_der_public_key(der)
    raw = base64.b64decode(sig["signature"])
    if key["KeySpec"] == "ECC_NIST_P256":
        public.verify(raw, digest.encode(), ec.ECDSA(hashes.SHA256()))
    else:
        public.verify(raw, digest.encode(), padding.PKCS1v15(), hashes.SHA256())
    pem = tmp_path / "kms.pub.pem"
    pem.write_bytes(
        public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    code, out, _ = run_cli("verify", str(tmp_path / "out"), "--public-key", str(pem))
    assert code == EXIT_OK, out
    # and through KMS Verify, with the key the parameters name
    params = tmp_path / "p.yaml"
    params.write_text(f"evidence_signing: kms:{key['Arn']}\n")
    code, out, _ = run_cli("verify", str(tmp_path / "out"), "--params", str(params))
    assert code == EXIT_OK, out
    assert f"signed by {key['Arn']}" in out


def test_kms_verify_rejects_a_signature_of_another_key(account, tmp_path: Path) -> None:
    kms = account.session.client("kms", region_name="us-east-1")
    ours = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")["KeyMetadata"]
    theirs = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")["KeyMetadata"]
    publish(tmp_path / "out", "a", KmsSigner(kms, theirs["KeyId"]).prepare())
    params = tmp_path / "p.yaml"
    params.write_text(f"evidence_signing: kms:{ours['Arn']}\n")
    code, out, _ = run_cli("verify", str(tmp_path / "out"), "--params", str(params))
    assert code == EXIT_FINDINGS
    # KMS raises KMSInvalidSignatureException, moto answers SignatureValid: false: both invalid
    assert f"PROBLEM a: signature invalid (it names {theirs['Arn']})" in out.splitlines()


def test_a_key_that_cannot_sign_stops_the_run_before_the_scan(account, tmp_path: Path) -> None:
    kms = account.session.client("kms", region_name="us-east-1")
    crypt = kms.create_key(KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["KeyId"]
    with pytest.raises(SigningError, match="not SIGN_VERIFY"):
        KmsSigner(kms, crypt).prepare()
    account.bucket("some-bucket")
    params = tmp_path / "p.yaml"
    params.write_text(
        f"output_dir: {tmp_path}/out\nevidence_signing: kms:arn:aws:kms:us-east-1:123456789012:"
        "key/00000000-0000-0000-0000-000000000000\n"
    )
    code, _, err = run_cli("scan", "--params", str(params))
    assert code == EXIT_FAILURE
    assert err.startswith("s3compliance: signing failed: KMS key arn:aws:kms:")
    assert "GetPublicKey failed" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()  # nothing scanned, nothing published


def test_a_kms_refusal_while_publishing_publishes_nothing(account, tmp_path: Path) -> None:
    """KMS answers AccessDenied on Sign (e.g. the key policy changed during the scan)."""
    from s3compliance.testing.emulation import _response

    kms = account.session.client("kms", region_name="us-east-1")
    key = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")["KeyMetadata"]
    signer = KmsSigner(kms, key["KeyId"]).prepare()
    denied = json.dumps({"__type": "AccessDeniedException", "message": "denied"})
    kms.meta.events.register(
        "before-send.kms.Sign", lambda request, **_: _response(request, 400, denied, {})
    )
    with pytest.raises(SigningError, match=r"\(AccessDeniedException\) when calling the Sign"):
        publish(tmp_path / "out", "a", signer)
    assert [p.name for p in (tmp_path / "out").iterdir()] == []


# --- the archive --------------------------------------------------------------------------------


def archive_bucket(account, lock: bool = True, name: str = ARCHIVE) -> str:
    s3 = account.s3
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=lock)
    s3.put_bucket_encryption(
        Bucket=name,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]
        },
    )
    s3.put_public_access_block(
        Bucket=name,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    if not lock:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def keys(account, prefix: str = "") -> list[str]:
    listing = account.s3.list_objects_v2(Bucket=ARCHIVE, Prefix=prefix)
    return sorted(o["Key"] for o in listing.get("Contents", []))


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    publish(out, "20260301T020000Z")
    publish(out, "20260302T020000Z")
    return out


def recorded_puts(client) -> list[dict]:
    puts: list[dict] = []
    client.meta.events.register(
        "provide-client-params.s3.PutObject", lambda params, **_: puts.append(dict(params))
    )
    return puts


PARAMS = Params(retry_attempts=3, retry_max_wait_s=0)


def test_runs_are_archived_write_once_manifest_last(account, runs: Path) -> None:
    archive_bucket(account)
    client = account.session.client("s3", region_name="us-east-1")
    puts = recorded_puts(client)
    before = datetime.now(UTC)
    outcomes = archive_folder(runs, f"s3://{ARCHIVE}/evidence", PARAMS, client)
    assert [(o.location, len(o.uploaded), o.complete) for o in outcomes] == [
        (f"s3://{ARCHIVE}/evidence/20260301T020000Z/", 5, True),
        (f"s3://{ARCHIVE}/evidence/20260302T020000Z/", 5, True),
    ]
    first = [p["Key"].rsplit("20260301T020000Z/", 1)[1] for p in puts[:5]]
    assert first[-1] == "manifest.json"  # after every file it lists (unsigned: no .sig)
    for put in puts:
        assert put["ChecksumAlgorithm"] == "SHA256" and put["IfNoneMatch"] == "*"
        assert put["ObjectLockMode"] == "COMPLIANCE"
        retain = put["ObjectLockRetainUntilDate"]
        assert before + timedelta(days=2190) <= retain <= datetime.now(UTC) + timedelta(days=2190)
    folder = runs / "20260301T020000Z"
    manifest = json.loads((folder / "manifest.json").read_text())
    for entry in [*manifest["files"], {"path": "manifest.json"}]:
        key = f"evidence/20260301T020000Z/{entry['path']}"
        data = (folder / entry["path"]).read_bytes()
        head = account.s3.head_object(Bucket=ARCHIVE, Key=key, ChecksumMode="ENABLED")
        assert head["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(data).digest()).decode()
        assert head["ObjectLockMode"] == "COMPLIANCE"
        assert head["ObjectLockRetainUntilDate"] > before + timedelta(days=2189)
        assert account.s3.get_object(Bucket=ARCHIVE, Key=key)["Body"].read() == data
    assert folder.is_dir()  # the local run is never moved or deleted


def test_the_same_run_archived_twice_is_not_uploaded_again(account, runs: Path) -> None:
    archive_bucket(account)
    client = account.session.client("s3", region_name="us-east-1")
    archive_folder(runs, f"s3://{ARCHIVE}/evidence", PARAMS, client)
    puts = recorded_puts(client)
    again = archive_folder(runs, f"s3://{ARCHIVE}/evidence", PARAMS, client)
    assert puts == []
    assert [(len(o.uploaded), len(o.present)) for o in again] == [(0, 5), (0, 5)]


def test_a_conflicting_object_is_an_error_never_overwritten(account, runs: Path, capsys) -> None:
    archive_bucket(account)
    key = "evidence/20260302T020000Z/findings.json"
    account.s3.put_object(Bucket=ARCHIVE, Key=key, Body=b"someone else's")
    params = runs.parent / "p.yaml"
    params.write_text(f"evidence_archive: s3://{ARCHIVE}/evidence\n")
    code, out, err = run_cli("archive", str(runs), "--params", str(params))
    assert code == EXIT_FAILURE
    assert f"  {key}: another object is there (not overwritten)" in err.splitlines()
    assert account.s3.get_object(Bucket=ARCHIVE, Key=key)["Body"].read() == b"someone else's"
    # the manifest does not vouch for an incomplete archive: it is not sent
    assert "evidence/20260302T020000Z/manifest.json" not in keys(account)
    assert "evidence/20260301T020000Z/manifest.json" in keys(account)
    assert f"Archive s3://{ARCHIVE}/evidence/20260302T020000Z/: 3 uploaded" in out


def test_a_bucket_that_is_not_write_once_is_refused(account, runs: Path) -> None:
    account.s3.create_bucket(Bucket=ARCHIVE)
    code, _, err = run_cli("archive", str(runs), "--to", f"s3://{ARCHIVE}/evidence")
    assert code == EXIT_USAGE
    assert err == (
        f"s3compliance: archive refused: s3://{ARCHIVE} is not write-once (Object Lock is not "
        "enabled; versioning is not enabled; no default encryption; Block Public Access is not "
        "fully on): nothing uploaded (evidence_archive_allow_mutable: true archives anyway, "
        "not as evidence)\n"
    )  # (AWS gives new buckets SSE-S3 and Block Public Access by default; moto does not)
    assert keys(account) == []


def test_allow_mutable_archives_without_retention(account, runs: Path) -> None:
    archive_bucket(account, lock=False)
    state = bucket_state(account.s3, ARCHIVE, RetryPolicy(attempts=1))
    assert state.problems() == ["Object Lock is not enabled"]
    client = account.session.client("s3", region_name="us-east-1")
    puts = recorded_puts(client)
    params = replace(PARAMS, evidence_archive_allow_mutable=True)
    outcomes = archive_folder(runs / "20260301T020000Z", f"s3://{ARCHIVE}", params, client)
    assert outcomes[0].complete and len(puts) == 5
    assert not [p for p in puts if "ObjectLockMode" in p]
    assert keys(account)[0] == "20260301T020000Z/findings.json"  # no prefix: run id first


def test_an_upload_failing_transiently_then_succeeding(account, runs: Path) -> None:
    archive_bucket(account)
    account.faults.fail(ARCHIVE, "PutObject", "SlowDown", times=2)
    client = account.clients().s3()  # botocore's own retries off: the project's policy retries
    retry = RetryPolicy(attempts=3, max_wait_s=0)
    folder = runs / "20260301T020000Z"
    entries = [Entry("findings.json", sha((folder / "findings.json").read_bytes()))]
    outcome = archive_run(
        client, parse_target(f"s3://{ARCHIVE}/e"), folder.name, folder, entries, retry, True
    )
    assert outcome.uploaded == ["e/20260301T020000Z/findings.json"] and outcome.complete
    assert retry.counter.count == 2


def test_an_upload_that_keeps_failing_is_reported_and_exits_1(account, runs: Path) -> None:
    archive_bucket(account)
    account.faults.fail(ARCHIVE, "PutObject", "AccessDenied")
    client = account.session.client("s3", region_name="us-east-1")
    outcomes = archive_folder(runs, f"s3://{ARCHIVE}/e", PARAMS, client)
    assert not any(o.complete for o in outcomes)
    assert outcomes[0].failures[0].startswith("e/20260301T020000Z/findings.json: AccessDenied")
    assert outcomes[0].failures[-1] == (
        "e/20260301T020000Z/manifest.json: not sent (earlier files were not archived)"
    )
    assert (runs / "20260301T020000Z" / "manifest.json").is_file()


def test_an_archive_bucket_that_cannot_be_read_is_exit_1(account, runs: Path) -> None:
    archive_bucket(account)
    account.faults.fail(ARCHIVE, "GetObjectLockConfiguration", "AccessDenied")
    client = account.session.client("s3", region_name="us-east-1")
    with pytest.raises(ArchiveUnavailable, match=f"archive bucket {ARCHIVE}: .*AccessDenied"):
        archive_folder(runs, f"s3://{ARCHIVE}/e", PARAMS, client)
    assert keys(account) == []
    code, _, err = run_cli("archive", str(runs), "--to", "s3://no-such-archive/e")
    assert code == EXIT_FAILURE
    assert err.startswith("s3compliance: could not check: archive bucket no-such-archive: ")


def test_a_local_run_that_no_longer_matches_its_manifest_is_not_archived(
    account, runs: Path
) -> None:
    archive_bucket(account)
    (runs / "20260302T020000Z" / "findings.json").write_text("{}")
    client = account.session.client("s3", region_name="us-east-1")
    outcomes = archive_folder(runs, f"s3://{ARCHIVE}/e", PARAMS, client)
    assert outcomes[0].complete
    assert outcomes[1].failures == [
        f"{runs}/20260302T020000Z: not archived: file changed: findings.json"
    ]
    assert not keys(account, "e/20260302T020000Z/")


def test_verify_reads_the_archive_and_finds_a_changed_object(account, runs: Path) -> None:
    archive_bucket(account)
    code, out, _ = run_cli("archive", str(runs), "--to", f"s3://{ARCHIVE}/evidence")
    assert code == EXIT_OK, out
    code, out, _ = run_cli("verify", f"s3://{ARCHIVE}/evidence")
    assert code == EXIT_OK, out
    assert out.splitlines()[-1] == "Verified 2 run(s); 0 unverifiable; 0 problem(s); 0 not checked"
    code, out, _ = run_cli("verify", f"s3://{ARCHIVE}/evidence/20260302T020000Z")
    assert (code, out.splitlines()[0]) == (
        EXIT_OK,
        "OK 20260302T020000Z: 4 files match the manifest, not signed",
    )
    # moto does not enforce compliance mode: a new version stands in for a forged object
    key = "evidence/20260301T020000Z/report.html"
    account.s3.put_object(Bucket=ARCHIVE, Key=key, Body=b"<html>forged</html>")
    code, out, _ = run_cli("verify", f"s3://{ARCHIVE}/evidence")
    assert code == EXIT_FINDINGS
    assert "PROBLEM 20260301T020000Z: file changed: report.html" in out.splitlines()
    code, _, err = run_cli("verify", f"s3://{ARCHIVE}/nothing-here")
    assert code == EXIT_FAILURE and "no archived run there" in err


def test_a_scan_archives_its_run_once_published(account, tmp_path: Path) -> None:
    archive_bucket(account)
    account.bucket("scanned-bucket")
    params = tmp_path / "p.yaml"
    params.write_text(
        f"output_dir: {tmp_path}/out\nrun_id: nightly\nevidence_archive: s3://{ARCHIVE}/runs\n"
    )
    code, out, _ = run_cli("scan", "--params", str(params))
    assert code == EXIT_FINDINGS  # the findings' 3: archiving went well
    assert f"Archive s3://{ARCHIVE}/runs/nightly/: " in out
    assert "runs/nightly/manifest.json" in keys(account)
    assert "runs/nightly/findings.json" in keys(account)


def test_archive_permissions_cover_its_calls_and_the_policy_scopes_them(account, runs) -> None:
    archive_bucket(account)
    clients = account.clients()
    client = clients.s3()
    archive_folder(runs, f"s3://{ARCHIVE}/evidence", PARAMS, client)
    # the operations the archive made, each mapped to the IAM action S3 documents for it
    documented = {
        "GetObjectLockConfiguration": "s3:GetBucketObjectLockConfiguration",
        "GetBucketVersioning": "s3:GetBucketVersioning",
        "GetBucketEncryption": "s3:GetEncryptionConfiguration",
        "GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
        "HeadObject": "s3:GetObject",
        "PutObject": "s3:PutObject",
    }
    assert set(clients.recorder.operations) == set(documented)
    # PutObject with retention also needs s3:PutObjectRetention; verify lists the bucket
    needed = {*documented.values(), "s3:PutObjectRetention", "s3:ListBucket"}
    assert needed == set(PERMISSIONS)
    assert OPERATION_PERMISSIONS.get("PutBucketTagging")  # the table other writers use
    policy = iam_policy(
        with_writes=True,
        evidence_archive=f"s3://{ARCHIVE}/evidence",
        evidence_signing="kms:arn:aws:kms:eu-west-1:111122223333:key/abc",
    )
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["S3ComplianceEvidenceArchive"]["Resource"] == [
        f"arn:aws:s3:::{ARCHIVE}",
        f"arn:aws:s3:::{ARCHIVE}/evidence/*",
    ]
    assert by_sid["S3ComplianceEvidenceArchive"]["Action"] == sorted(PERMISSIONS)
    assert by_sid["S3ComplianceEvidenceSigning"] == {
        "Sid": "S3ComplianceEvidenceSigning",
        "Effect": "Allow",
        "Action": ["kms:GetPublicKey", "kms:Sign", "kms:Verify"],
        "Resource": "arn:aws:kms:eu-west-1:111122223333:key/abc",
    }
    unsigned = {s["Sid"] for s in iam_policy(with_writes=True)["Statement"]}
    assert "S3ComplianceEvidenceSigning" not in unsigned  # KMS grants only when signing is set
    assert "S3ComplianceEvidenceArchive" in unsigned
    assert "S3ComplianceEvidenceArchive" not in {s["Sid"] for s in iam_policy()["Statement"]}


def test_archive_bad_arguments(tmp_path: Path) -> None:
    assert run_cli("archive", str(tmp_path))[0] == EXIT_USAGE  # no --to, no params
    assert run_cli("archive", str(tmp_path / "none"), "--to", "s3://abc/x")[0] == EXIT_USAGE
    with pytest.raises(ArchiveRefused, match="expected s3://"):
        parse_target("https://abc")
    with pytest.raises(ArchiveRefused, match="is not an S3 bucket name"):
        parse_target("s3://Bad_Bucket/x")
    assert parse_target("s3://abc/a/b/").key("r", "f.json") == "a/b/r/f.json"


# --- KMS and the archive: the less common answers ----------------------------------------------


def test_kms_signer_edge_cases(account, tmp_path: Path) -> None:
    from s3compliance.outputs.signing import signer_for

    kms = account.session.client("kms", region_name="us-east-1")
    sm2 = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="SM2")["KeyMetadata"]["KeyId"]
    with pytest.raises(SigningError, match="no supported signing algorithm"):
        KmsSigner(kms, sm2).prepare()
    key = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")["KeyMetadata"]
    unprepared = KmsSigner(kms, key["KeyId"])  # prepared on first use
    assert unprepared.sign(b"a" * 64) and unprepared.algorithm == "ECDSA_SHA_256"
    with pytest.raises(SigningError, match="GetPublicKey failed"):
        signature_document_of(KmsSigner(kms, "alias/none"))
    signer = signer_for(Params(evidence_signing=f"kms:{key['Arn']}"))
    assert signer is not None and signer.algorithm == "ECDSA_SHA_256"
    assert signer_for(Params()) is None


def unreachable(account, service: str):
    """A client of ``service`` pointed at a closed local port, one attempt, no retries."""
    from botocore.config import Config

    return account.session.client(
        service,
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=1),
    )


def signature_document_of(signer) -> dict:
    from s3compliance.outputs.signing import signature_document

    return signature_document(signer, "a" * 64)


def test_kms_verify_answers_other_than_valid(account, tmp_path: Path) -> None:
    from s3compliance.outputs.verify import CannotCheck, Expected
    from s3compliance.testing.emulation import _response

    kms = account.session.client("kms", region_name="us-east-1")
    key = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")["KeyMetadata"]
    expected = Expected(kms_client=kms, kms_key_id=key["Arn"], describe=key["Arn"])
    doc = {"algorithm": "ECDSA_SHA_256", "message": "a" * 64, "signature": "c2ln"}
    assert "is not one KMS key" in expected.check({**doc, "algorithm": "ED25519"})
    assert expected.check({**doc, "signature": "***"}) == "signature is not base64"
    answers = iter(["KMSInvalidSignatureException", "NotFoundException"])
    kms.meta.events.register(
        "before-send.kms.Verify",  # KMS speaks JSON: its errors carry __type
        lambda request, **_: _response(
            request, 400, json.dumps({"__type": next(answers), "message": "no"}), {}
        ),
    )
    assert expected.check(doc) == f"signature invalid for KMS key {key['Arn']}"
    with pytest.raises(CannotCheck, match="NotFoundException"):
        expected.check(doc)
    closed = unreachable(account, "kms")
    with pytest.raises(CannotCheck, match="Could not connect"):
        Expected(kms_client=closed, kms_key_id="k").check(doc)


def test_an_object_written_meanwhile_is_read_again(account, runs: Path) -> None:
    """Another writer puts the key between our HeadObject and PutObject: S3 refuses ours
    (If-None-Match), and the object there is judged like any other."""
    archive_bucket(account)
    folder = runs / "20260301T020000Z"
    client = account.clients().s3()
    other = account.session.client("s3", region_name="us-east-1")

    def race(body: bytes):
        def before(params, **_):
            other.put_object(
                Bucket=ARCHIVE, Key=params["Key"], Body=body, ChecksumAlgorithm="SHA256"
            )

        return before

    data = (folder / "findings.json").read_bytes()
    entries = [Entry("findings.json", sha(data))]
    target = parse_target(f"s3://{ARCHIVE}/same")
    handler = race(data)
    client.meta.events.register("provide-client-params.s3.PutObject", handler)
    outcome = archive_run(client, target, folder.name, folder, entries, RetryPolicy(1), True)
    assert (outcome.uploaded, outcome.present) == ([], ["same/20260301T020000Z/findings.json"])
    client.meta.events.unregister("provide-client-params.s3.PutObject", handler)
    client.meta.events.register("provide-client-params.s3.PutObject", race(b"theirs"))
    outcome = archive_run(
        client,
        parse_target(f"s3://{ARCHIVE}/diff"),
        folder.name,
        folder,
        entries,
        RetryPolicy(1),
        True,
    )
    assert outcome.conflicts == [
        "diff/20260301T020000Z/findings.json: another object is there (not overwritten)"
    ]


def test_unreadable_keys_and_files_are_failures(account, runs: Path) -> None:
    archive_bucket(account)
    folder = runs / "20260301T020000Z"
    account.faults.fail(ARCHIVE, "HeadObject", "AccessDenied", times=1)
    client = account.clients().s3()
    entries = [Entry("findings.json", "0" * 64), Entry("gone.json", "0" * 64)]
    outcome = archive_run(
        client, parse_target(f"s3://{ARCHIVE}"), folder.name, folder, entries, RetryPolicy(1), True
    )
    assert outcome.failures[0].startswith("20260301T020000Z/findings.json: AccessDenied")
    assert outcome.failures[1].startswith("20260301T020000Z/gone.json: [Errno 2]")


def test_archive_of_an_output_folder_with_old_and_signed_runs(account, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from s3compliance.outputs.signing import FileSigner

    archive_bucket(account)
    out = tmp_path / "out"
    old = out / "20250101T000000Z"
    old.mkdir(parents=True)
    (old / "run.json").write_text("{}")
    publish(out, "20260101T000000Z", FileSigner(ed25519.Ed25519PrivateKey.generate()))
    client = account.clients().s3()
    puts = recorded_puts(client)
    code_out = io.StringIO()
    with contextlib.redirect_stderr(code_out):
        outcomes = archive_folder(out, f"s3://{ARCHIVE}/e", PARAMS, client)
    assert "1 run(s) without manifest.json (written before manifests) left out" in (
        code_out.getvalue()
    )
    assert [o.run_id for o in outcomes] == ["20260101T000000Z"]
    assert [p["Key"].rsplit("/", 1)[1] for p in puts[-2:]] == ["manifest.json", "manifest.sig.json"]
    (tmp_path / "empty").mkdir()
    code, _, err = run_cli("archive", str(tmp_path / "empty"), "--to", f"s3://{ARCHIVE}/e")
    assert code == EXIT_USAGE and "neither a run folder nor an output folder" in err


def test_verify_of_an_archive_that_cannot_be_listed(account) -> None:
    from s3compliance.outputs.verify import CannotCheck, archive_sources

    archive_bucket(account)
    account.faults.fail(ARCHIVE, "ListObjectsV2", "AccessDenied")
    with pytest.raises(CannotCheck, match="AccessDenied"):
        archive_sources(account.clients().s3(), ARCHIVE, "")


def test_a_scan_refuses_an_archive_that_is_not_write_once_before_scanning(
    account, tmp_path: Path
) -> None:
    account.s3.create_bucket(Bucket=ARCHIVE)
    params = tmp_path / "p.yaml"
    params.write_text(f"output_dir: {tmp_path}/out\nevidence_archive: s3://{ARCHIVE}/runs\n")
    code, _, err = run_cli("scan", "--params", str(params))
    assert code == EXIT_USAGE and "is not write-once (Object Lock is not enabled" in err
    assert not (tmp_path / "out").exists()
    code, _, err = run_cli("run", "--params", str(params))
    assert code == EXIT_USAGE and not (tmp_path / "out").exists()


def test_a_scan_whose_archive_fails_exits_1_and_keeps_its_run(account, tmp_path: Path) -> None:
    archive_bucket(account)
    account.s3.put_object(Bucket=ARCHIVE, Key="runs/nightly/findings.json", Body=b"not ours")
    params = tmp_path / "p.yaml"
    params.write_text(
        f"output_dir: {tmp_path}/out\nrun_id: nightly\nevidence_archive: s3://{ARCHIVE}/runs\n"
    )
    code, _, err = run_cli("scan", "--params", str(params))
    assert code == EXIT_FAILURE
    assert "runs/nightly/findings.json: another object is there (not overwritten)" in err
    assert (tmp_path / "out" / "nightly" / "manifest.json").is_file()


def test_verify_of_an_archive_out_of_reach(account) -> None:
    from s3compliance.outputs.verify import CannotCheck, archive_sources

    closed = unreachable(account, "s3")
    with pytest.raises(CannotCheck, match="Could not connect"):
        archive_sources(closed, ARCHIVE, "runs/r1")


def test_the_notebooks_archive_cell(account, tmp_path: Path) -> None:
    from s3compliance.outputs.notebook import archive_step

    folder = publish(tmp_path / "out", "nb")
    params = replace(PARAMS, evidence_archive=f"s3://{ARCHIVE}/nb")
    assert archive_step(folder, PARAMS) == "Evidence archive is off (evidence_archive is not set)."
    assert "archives once the run folder is published" in archive_step(folder, params, "/staging")
    archive_bucket(account)
    table = archive_step(folder, params)
    assert table.to_dict("records") == [
        {
            "run_id": "nb",
            "location": f"s3://{ARCHIVE}/nb/nb/",
            "uploaded": 5,
            "already_there": 0,
            "conflicts": 0,
            "failed": 0,
            "problems": "",
        }
    ]
