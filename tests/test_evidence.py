"""Evidence: the manifest of every run, the chain between runs, signatures, ``verify``.

Expectations come from the issue's contract (docs/tasks/evidence.md): a manifest lists every other
file of the run folder with its size and SHA-256 (computed here with hashlib, not with the
code under test), names the run published before it by run id and manifest SHA-256, and is the
last file written; ``verify`` exits 0 / 3 / 1 / 2 and names each problem on one line.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from s3compliance.cli import main
from s3compliance.cli.common import EXIT_FAILURE, EXIT_FINDINGS, EXIT_OK, EXIT_USAGE
from s3compliance.outputs.manifest import ManifestInvalid, chain_head, parse_manifest
from s3compliance.outputs.report import write_report
from s3compliance.outputs.runfolder import staged_run
from s3compliance.outputs.signing import (
    FileSigner,
    KeyUnusable,
    SigningError,
    load_private_key,
    load_public_key,
    parse_signing,
    signature_document,
    verify_offline,
)
from s3compliance.params import Params, ParamsError, validate
from s3compliance.scan.run import run_scan

NO_SLEEP = {"sleep": lambda _s: None}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def publish(out: Path, run_id: str, signer=None, files: dict[str, bytes] | None = None) -> Path:
    """A run folder through the real publisher, with a few files of its own."""
    files = files or {
        "findings.json": b'{"summary": {}}\n',
        "report.html": b"<html>report " + run_id.encode() + b"</html>\n",
        "pulumi/__main__.py": b"print('adopt')\n",
        "run.json": json.dumps(
            {"run_id": run_id, "parameters_hash": "p" * 16, "exceptions_sha256": None}
        ).encode(),
    }
    with staged_run(out, run_id, signer) as run:
        for name, data in files.items():
            (run.staging / name).parent.mkdir(parents=True, exist_ok=True)
            (run.staging / name).write_bytes(data)
    assert run.final is not None
    return run.final


def write_pem(path: Path, key) -> Path:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


def write_public(path: Path, key) -> Path:
    path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


def verify(*args: str) -> tuple[int, list[str]]:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["verify", *args])
    return code, out.getvalue().splitlines()


# --- the manifest -------------------------------------------------------------------------------


@pytest.fixture
def result(account, params):
    account.compliant_bucket("aaa-good")
    account.bucket("bbb-bare")
    return run_scan(params, clients=account.clients(), **NO_SLEEP)


def test_every_run_folder_gets_a_manifest_of_its_other_files(result, tmp_path: Path) -> None:
    folder = write_report(result, tmp_path, "r1")
    manifest_bytes = (folder / "manifest.json").read_bytes()
    manifest = json.loads(manifest_bytes)
    on_disk = sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.name != "manifest.json"
    )
    assert [f["path"] for f in manifest["files"]] == on_disk  # sorted, recursive, POSIX
    assert "findings.json" in on_disk and "run.json" in on_disk
    for entry in manifest["files"]:
        data = (folder / entry["path"]).read_bytes()
        assert entry == {"path": entry["path"], "size": len(data), "sha256": sha(data)}
    run = json.loads((folder / "run.json").read_text())
    assert manifest["run_id"] == "r1"
    assert manifest["previous"] is None  # the first run of this output folder
    assert manifest["parameters_hash"] == run["parameters_hash"]
    assert manifest["exceptions_sha256"] is None  # no exceptions file applied
    assert manifest["tool_version"] == run["tool_version"]
    assert not (folder / "manifest.sig.json").exists()  # not signed unless asked


def test_the_next_run_names_the_previous_by_id_and_manifest_digest(tmp_path: Path) -> None:
    first = publish(tmp_path, "r1")
    second = publish(tmp_path, "r1")  # the same id: published as r1-2, chained to r1
    manifest = json.loads((second / "manifest.json").read_text())
    assert second.name == "r1-2" and manifest["run_id"] == "r1-2"
    assert manifest["previous"] == {
        "run_id": "r1",
        "manifest_sha256": sha((first / "manifest.json").read_bytes()),
    }
    assert json.loads((tmp_path / ".chain.json").read_text())["run_id"] == "r1-2"


def test_the_chain_survives_a_lost_or_corrupt_head_file(tmp_path: Path, caplog) -> None:
    publish(tmp_path, "a")
    b = publish(tmp_path, "b")
    (tmp_path / ".chain.json").unlink()
    c = publish(tmp_path, "c")
    assert json.loads((c / "manifest.json").read_text())["previous"]["run_id"] == "b"
    (tmp_path / ".chain.json").write_text("{not json")
    d = publish(tmp_path, "d")
    assert json.loads((d / "manifest.json").read_text())["previous"]["run_id"] == "c"
    assert ".chain.json unreadable" in caplog.text
    assert verify(str(tmp_path))[0] == EXIT_OK
    assert b.exists()


def test_runs_published_at_once_take_turns_and_form_one_chain(tmp_path: Path) -> None:
    """Eight publishers in parallel: the lock that names the folder also chains it, so each run
    names exactly one predecessor and none is named twice (no fork)."""
    barrier = threading.Barrier(8)

    def one(i: int) -> None:
        barrier.wait()
        publish(tmp_path, f"run{i}")

    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    manifests = [json.loads(p.read_text()) for p in tmp_path.glob("run*/manifest.json")]
    previous = [m["previous"]["run_id"] for m in manifests if m["previous"]]
    assert len(manifests) == 8 and len(previous) == 7 and len(set(previous)) == 7
    assert sorted(m["sequence"] for m in manifests) == list(range(1, 9))
    assert verify(str(tmp_path))[0] == EXIT_OK


def test_a_failed_run_changes_neither_the_folder_nor_the_chain(tmp_path: Path) -> None:
    publish(tmp_path, "a")
    head = (tmp_path / ".chain.json").read_bytes()
    with pytest.raises(RuntimeError), staged_run(tmp_path, "b") as run:
        (run.staging / "findings.json").write_text("{}")
        raise RuntimeError("the scan failed")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".chain.json",
        "a",
        "latest",
        "latest-state",
    ]
    assert (tmp_path / ".chain.json").read_bytes() == head


# --- verify: the tampering cases, each its own test --------------------------------------


@pytest.fixture
def three(tmp_path: Path) -> Path:
    for run_id in ("20260301T020000Z", "20260302T020000Z", "20260303T020000Z"):
        publish(tmp_path, run_id)
    return tmp_path


def test_untouched_runs_verify(three: Path) -> None:
    code, lines = verify(str(three))
    assert code == EXIT_OK
    assert lines[:3] == [
        f"OK {r}: 4 files match the manifest, not signed"
        for r in ("20260301T020000Z", "20260302T020000Z", "20260303T020000Z")
    ]
    assert lines[-1] == "Verified 3 run(s); 0 unverifiable; 0 problem(s); 0 not checked"
    assert verify(str(three / "20260302T020000Z"))[0] == EXIT_OK  # one run folder alone


def test_one_byte_of_the_findings_changed_is_named(three: Path) -> None:
    path = three / "20260302T020000Z" / "findings.json"
    data = bytearray(path.read_bytes())
    data[3] ^= 0x01
    path.write_bytes(bytes(data))
    code, lines = verify(str(three))
    assert code == EXIT_FINDINGS
    assert "PROBLEM 20260302T020000Z: file changed: findings.json" in lines


def test_a_deleted_report_is_named(three: Path) -> None:
    (three / "20260303T020000Z" / "report.html").unlink()
    code, lines = verify(str(three))
    assert code == EXIT_FINDINGS
    assert "PROBLEM 20260303T020000Z: file missing: report.html" in lines


def test_an_added_file_is_named(three: Path) -> None:
    (three / "20260301T020000Z" / "pulumi" / "extra.py").write_text("x = 1\n")
    code, lines = verify(str(three))
    assert code == EXIT_FINDINGS
    assert "PROBLEM 20260301T020000Z: file added: pulumi/extra.py" in lines


def test_the_middle_of_three_runs_deleted_breaks_the_chain_between_its_neighbours(
    three: Path,
) -> None:
    import shutil

    shutil.rmtree(three / "20260302T020000Z")
    code, lines = verify(str(three))
    assert code == EXIT_FINDINGS
    assert (
        "PROBLEM chain broken between 20260301T020000Z and 20260303T020000Z: "
        "run 20260302T020000Z is missing"
    ) in lines


def test_an_edited_manifest_breaks_the_chain_to_its_successor(three: Path) -> None:
    """Whoever edits a file and rewrites its manifest to match still breaks the next run's
    link: the successor recorded the old manifest's digest."""
    folder = three / "20260302T020000Z"
    (folder / "findings.json").write_text('{"summary": {"doctored": true}}\n')
    manifest = json.loads((folder / "manifest.json").read_text())
    data = (folder / "findings.json").read_bytes()
    manifest["files"][0].update(size=len(data), sha256=sha(data))
    (folder / "manifest.json").write_text(json.dumps(manifest))
    code, lines = verify(str(three))
    assert code == EXIT_FINDINGS
    assert not [line for line in lines if "file changed" in line]  # the folder itself agrees
    assert (
        "PROBLEM chain broken between 20260302T020000Z and 20260303T020000Z: run "
        "20260302T020000Z's manifest.json changed after 20260303T020000Z was published"
    ) in lines


def test_the_newest_run_deleted_is_caught_while_the_chain_head_file_remains(three: Path) -> None:
    import shutil

    shutil.rmtree(three / "20260303T020000Z")
    code, lines = verify(str(three))
    assert code == EXIT_FINDINGS
    assert lines[-2] == (
        "PROBLEM the last run published here (20260303T020000Z, per .chain.json) is missing"
    )
    (three / ".chain.json").unlink()  # README: without it (or the archive), nothing can tell
    assert verify(str(three))[0] == EXIT_OK


def test_runs_from_before_manifests_are_unverifiable_not_a_break(tmp_path: Path) -> None:
    old = tmp_path / "20250101T000000Z"
    old.mkdir()
    (old / "run.json").write_text("{}")
    (old / "findings.json").write_text("{}")
    publish(tmp_path, "20260101T000000Z")
    code, lines = verify(str(tmp_path))
    assert code == EXIT_OK
    assert lines[0] == (
        "UNVERIFIABLE 20250101T000000Z: no manifest.json (written before manifests)"
    )
    assert lines[-1] == "Verified 1 run(s); 1 unverifiable; 0 problem(s); 0 not checked"


def test_a_manifest_read_back_is_untrusted(three: Path) -> None:
    for doctored in (
        {"files": [{"path": "../../etc/passwd", "size": 1, "sha256": "0" * 64}]},
        {"files": [{"path": "/etc/passwd", "size": 1, "sha256": "0" * 64}]},
        {"files": "none"},
        {"previous": {"run_id": "x"}},
    ):
        base = json.loads((three / "20260301T020000Z" / "manifest.json").read_text())
        with pytest.raises(ManifestInvalid):
            parse_manifest(json.dumps({**base, **doctored}).encode(), "m")
    with pytest.raises(ManifestInvalid, match="not valid JSON"):
        parse_manifest(b"\xff", "m")
    (three / "20260301T020000Z" / "manifest.json").write_text('{"run_id": 1}')
    code, lines = verify(str(three))
    assert code == EXIT_FINDINGS
    assert any(line.startswith("PROBLEM 20260301T020000Z: manifest unreadable") for line in lines)
    # and the chain notices its successor's predecessor is gone
    assert any("chain broken before 20260302T020000Z" in line for line in lines)


def test_a_run_folder_renamed_is_named(three: Path) -> None:
    (three / "20260303T020000Z").rename(three / "20260304T020000Z")
    code, lines = verify(str(three / "20260304T020000Z"))
    assert code == EXIT_FINDINGS
    assert (
        "PROBLEM 20260304T020000Z: manifest is run 20260303T020000Z's, found under 20260304T020000Z"
    ) in lines


def test_verify_bad_arguments_exit_2(tmp_path: Path, capsys) -> None:
    assert verify(str(tmp_path / "nowhere"))[0] == EXIT_USAGE
    (tmp_path / "empty").mkdir()
    assert verify(str(tmp_path / "empty"))[0] == EXIT_USAGE
    (tmp_path / "bad.pem").write_text("not a key")
    publish(tmp_path / "out", "a")
    assert verify(str(tmp_path / "out"), "--public-key", str(tmp_path / "bad.pem"))[0] == 2
    err = capsys.readouterr().err
    assert "bad key" in err and "not a PEM public key" in err


# --- signatures ---------------------------------------------------------------------------------


@pytest.fixture(params=["ed25519", "p256", "p384"])
def local_key(request, tmp_path: Path):
    key = {
        "ed25519": ed25519.Ed25519PrivateKey.generate,
        "p256": lambda: ec.generate_private_key(ec.SECP256R1()),
        "p384": lambda: ec.generate_private_key(ec.SECP384R1()),
    }[request.param]()
    return key, write_pem(tmp_path / "signing.pem", key), write_public(tmp_path / "pub.pem", key)


def test_a_local_key_signs_the_manifest_digest_verifiable_with_the_standard_library(
    local_key, tmp_path: Path
) -> None:
    key, pem, public = local_key
    folder = publish(tmp_path / "out", "a", FileSigner(load_private_key(pem)))
    sig = json.loads((folder / "manifest.sig.json").read_text())
    digest = sha((folder / "manifest.json").read_bytes())
    assert sig["message"] == digest  # the signed message: 64 lower-case hex characters
    assert set(sig) == {"algorithm", "key", "message", "signature", "signed_at"}
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert sig["key"] == "sha256:" + sha(der)
    # what an auditor does with cryptography alone, given the public key
    signature = base64.b64decode(sig["signature"])
    if isinstance(key, ed25519.Ed25519PrivateKey):
        assert sig["algorithm"] == "ED25519"
        key.public_key().verify(signature, digest.encode())
    else:
        hash_ = {"secp256r1": hashes.SHA256(), "secp384r1": hashes.SHA384()}[key.curve.name]
        key.public_key().verify(signature, digest.encode(), ec.ECDSA(hash_))
    code, lines = verify(str(tmp_path / "out"), "--public-key", str(public))
    assert code == EXIT_OK
    assert lines[0] == f"OK a: 4 files match the manifest, signed by {sig['key']}"


def test_a_changed_signature_is_rejected(local_key, tmp_path: Path) -> None:
    _key, pem, public = local_key
    folder = publish(tmp_path / "out", "a", FileSigner(load_private_key(pem)))
    sig = json.loads((folder / "manifest.sig.json").read_text())
    raw = bytearray(base64.b64decode(sig["signature"]))
    raw[-1] ^= 0x01
    sig["signature"] = base64.b64encode(bytes(raw)).decode()
    (folder / "manifest.sig.json").write_text(json.dumps(sig))
    code, lines = verify(str(tmp_path / "out"), "--public-key", str(public))
    assert code == EXIT_FINDINGS
    assert any(
        line.startswith("PROBLEM a: signature invalid for the expected key") for line in lines
    )


def test_a_manifest_edited_and_resigned_with_another_key_is_rejected(tmp_path: Path) -> None:
    """The forger re-signs with their own key and names it in manifest.sig.json: verification
    uses the key the auditor expects, never the one the signature file names."""
    ours = ec.generate_private_key(ec.SECP256R1())
    public = write_public(tmp_path / "ours.pub.pem", ours)
    folder = publish(tmp_path / "out", "a", FileSigner(ours))
    (folder / "findings.json").write_text('{"summary": {"clean": true}}\n')
    manifest = json.loads((folder / "manifest.json").read_text())
    data = (folder / "findings.json").read_bytes()
    entry = next(f for f in manifest["files"] if f["path"] == "findings.json")
    entry.update(size=len(data), sha256=sha(data))
    text = json.dumps(manifest).encode()
    (folder / "manifest.json").write_bytes(text)
    forger = FileSigner(ec.generate_private_key(ec.SECP256R1()))
    (folder / "manifest.sig.json").write_text(json.dumps(signature_document(forger, sha(text))))
    # checked against the forger's own key, it would pass: that is why the key is the caller's
    code, lines = verify(str(tmp_path / "out"), "--public-key", str(public))
    assert code == EXIT_FINDINGS
    assert any(
        line.startswith("PROBLEM a: signature invalid for the expected key (it names sha256:")
        for line in lines
    )


def test_a_signature_over_another_manifest_and_a_missing_one_are_problems(tmp_path: Path) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    public = write_public(tmp_path / "pub.pem", key)
    a = publish(tmp_path / "out", "a", FileSigner(key))
    b = publish(tmp_path / "out", "b", FileSigner(key))
    (a / "manifest.sig.json").write_bytes((b / "manifest.sig.json").read_bytes())
    (b / "manifest.sig.json").unlink()
    code, lines = verify(str(tmp_path / "out"), "--public-key", str(public))
    assert code == EXIT_FINDINGS
    digest_b = sha((b / "manifest.json").read_bytes())
    assert f"PROBLEM a: manifest.sig.json signs another manifest ({digest_b})" in lines
    assert any(line.startswith("PROBLEM b: not signed, though a signature by") for line in lines)


def test_a_signed_run_without_an_expected_key_is_not_checked_exit_1(tmp_path: Path) -> None:
    publish(tmp_path / "out", "a", FileSigner(ed25519.Ed25519PrivateKey.generate()))
    code, lines = verify(str(tmp_path / "out"))
    assert code == EXIT_FAILURE
    assert lines[0].startswith("UNCHECKED a: signed by sha256:")
    assert "give --public-key or --params" in lines[0]


def test_the_params_key_is_the_expected_key(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = write_pem(tmp_path / "k.pem", key)
    (tmp_path / "p.yaml").write_text(f"evidence_signing: file:{pem}\noutput_dir: {tmp_path}/o\n")
    publish(tmp_path / "o", "a", FileSigner(key))
    assert verify(str(tmp_path / "o"), "--params", str(tmp_path / "p.yaml"))[0] == EXIT_OK


def test_offline_verification_of_rsa_and_a_mismatched_algorithm() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    message = "a" * 64
    doc = {"message": message, "algorithm": "RSASSA_PKCS1_V1_5_SHA_256"}
    from cryptography.hazmat.primitives.asymmetric import padding

    doc["signature"] = base64.b64encode(
        key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
    ).decode()
    assert verify_offline(doc, key.public_key()) is None
    pss = key.sign(
        message.encode(),
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
        hashes.SHA256(),
    )
    pss_doc = {
        **doc,
        "algorithm": "RSASSA_PSS_SHA_256",
        "signature": base64.b64encode(pss).decode(),
    }
    assert verify_offline(pss_doc, key.public_key()) is None
    ed = ed25519.Ed25519PrivateKey.generate().public_key()
    assert "does not fit" in (verify_offline(doc, ed) or "")
    assert verify_offline({**doc, "signature": "***"}, key.public_key()) == (
        "signature is not base64"
    )


def test_keys_that_cannot_sign_are_refused_in_one_line(tmp_path: Path, monkeypatch) -> None:
    rsa_key = write_pem(tmp_path / "rsa.pem", rsa.generate_private_key(65537, 2048))
    with pytest.raises(KeyUnusable, match="sign with an Ed25519 or ECDSA key"):
        load_private_key(rsa_key)
    with pytest.raises(KeyUnusable, match="cannot read the signing key"):
        load_private_key(tmp_path / "missing.pem")
    (tmp_path / "junk.pem").write_text("-----BEGIN PRIVATE KEY-----\nxx\n")
    with pytest.raises(KeyUnusable, match="not a PEM private key"):
        load_private_key(tmp_path / "junk.pem")
    k1 = ec.generate_private_key(ec.SECP256K1())
    with pytest.raises(KeyUnusable, match="curve secp256k1"):
        load_private_key(write_pem(tmp_path / "k1.pem", k1))
    encrypted = tmp_path / "enc.pem"
    encrypted.write_bytes(
        ed25519.Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"s3cret"),
        )
    )
    with pytest.raises(KeyUnusable, match="S3COMPLIANCE_SIGNING_KEY_PASSPHRASE"):
        load_private_key(encrypted)
    monkeypatch.setenv("S3COMPLIANCE_SIGNING_KEY_PASSPHRASE", "s3cret")
    assert isinstance(load_private_key(encrypted), ed25519.Ed25519PrivateKey)
    with pytest.raises(KeyUnusable, match="cannot read the public key"):
        load_public_key(tmp_path / "missing.pub")
    assert load_public_key(encrypted) is not None  # a private key file gives its public half
    with pytest.raises(KeyUnusable, match="expected kms:"):
        parse_signing("vault:x")


def test_signing_parameters_are_checked_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(ParamsError, match="key 'evidence_signing': 'gpg:x': expected kms:"):
        validate({"evidence_signing": "gpg:x"})
    with pytest.raises(ParamsError, match=r"key .evidence_signing.: .*cannot read the signing key"):
        validate({"evidence_signing": f"file:{tmp_path}/none.pem"})
    with pytest.raises(ParamsError, match="key 'evidence_archive': 'bucket': expected s3://"):
        validate({"evidence_archive": "bucket"})
    with pytest.raises(ParamsError, match="key 'evidence_archive': the demo account"):
        validate({"demo": True, "evidence_archive": "s3://evidence-archive/runs"})
    with pytest.raises(ParamsError, match="key 'evidence_signing': the demo account"):
        validate({"demo": True, "evidence_signing": "kms:alias/x"})
    pem = write_pem(tmp_path / "k.pem", ed25519.Ed25519PrivateKey.generate())
    params = validate({"demo": True, "evidence_signing": f"file:{pem}"})  # a file key: allowed
    assert params.evidence_signing == f"file:{pem.resolve()}"
    assert Params().evidence_retention_days == 2190


def test_a_signing_failure_publishes_nothing(tmp_path: Path) -> None:
    publish(tmp_path, "a")
    before = sorted(p.name for p in tmp_path.iterdir())
    head = (tmp_path / ".chain.json").read_bytes()

    class Refused:
        key, algorithm = "arn:aws:kms:us-east-1:111122223333:key/x", "ECDSA_SHA_256"

        def sign(self, message: bytes) -> bytes:
            raise OSError("connection reset")

    with pytest.raises(SigningError, match=r"signing with arn:aws:kms:.* failed"):
        publish(tmp_path, "b", Refused())
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert (tmp_path / ".chain.json").read_bytes() == head
    assert chain_head(tmp_path).run_id == "a"


# --- the chain's less common breaks -------------------------------------------------------------


def test_a_run_whose_manifest_was_deleted_is_named_by_its_successor(three: Path) -> None:
    (three / "20260302T020000Z" / "manifest.json").unlink()
    code, lines = verify(str(three))
    assert code == EXIT_FINDINGS
    assert (
        "PROBLEM chain broken between 20260301T020000Z and 20260303T020000Z: "
        "run 20260302T020000Z's manifest.json is missing"
    ) in lines


def test_a_second_chain_and_a_fork_are_named(tmp_path: Path) -> None:
    import shutil

    one, other = tmp_path / "one", tmp_path / "other"
    publish(one, "a")
    publish(one, "b")
    shutil.copytree(one, other, symlinks=True)
    publish(one, "c")
    publish(other, "d")  # chains to b as well: copied in, it forks the chain at b
    shutil.copytree(other / "d", one / "d")
    publish(tmp_path / "elsewhere", "x")  # a chain of its own
    shutil.copytree(tmp_path / "elsewhere" / "x", one / "x")
    code, lines = verify(str(one))
    assert code == EXIT_FINDINGS
    assert "PROBLEM chain forks at b: c, d all name it as previous" in lines
    assert (
        "PROBLEM chain broken before x: it starts a new chain (names no previous run), "
        "though a started this folder's"
    ) in lines


def test_an_unreadable_chain_head_and_a_replaced_newest_manifest_are_named(three: Path) -> None:
    (three / ".chain.json").write_text('{"run_id": 3}')
    code, lines = verify(str(three))
    assert code == EXIT_FINDINGS
    assert any(line.startswith("PROBLEM .chain.json unreadable: ") for line in lines)
    publish(three, "20260304T020000Z")  # the chain resumes from the newest manifest
    newest = three / "20260304T020000Z" / "manifest.json"
    newest.write_text(newest.read_text().replace('"sequence": 4', '"sequence": 5'))
    code, lines = verify(str(three))
    assert (
        "PROBLEM the last run published here (20260304T020000Z, per .chain.json) has another "
        "manifest"
    ) in lines


def test_the_chain_head_is_found_again_past_a_corrupt_manifest(tmp_path: Path, caplog) -> None:
    publish(tmp_path, "a")
    publish(tmp_path, "b")
    publish(tmp_path, "c")
    (tmp_path / ".chain.json").unlink()
    (tmp_path / "b" / "manifest.json").write_text("[]")
    d = publish(tmp_path, "d")
    assert json.loads((d / "manifest.json").read_text())["previous"]["run_id"] == "c"
    assert "chain head: " in caplog.text and "(skipped)" in caplog.text


def test_an_unreadable_signature_file_is_a_problem(tmp_path: Path) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    public = write_public(tmp_path / "pub.pem", key)
    a = publish(tmp_path / "out", "a", FileSigner(key))
    for text in ("{not json", json.dumps({"algorithm": "MD5"})):
        (a / "manifest.sig.json").write_text(text)
        code, lines = verify(str(a), "--public-key", str(public))
        assert code == EXIT_FINDINGS
        assert lines[1].startswith("PROBLEM a: manifest.sig.json unreadable: ")


def test_the_chain_head_is_the_highest_sequence_not_the_last_name(tmp_path: Path) -> None:
    from s3compliance.outputs.signing import signer_for

    publish(tmp_path, "zulu")
    publish(tmp_path, "alpha")  # sorted first, published last
    (tmp_path / ".chain.json").unlink()
    assert chain_head(tmp_path).run_id == "alpha"
    pem = write_pem(tmp_path / "k.pem", ed25519.Ed25519PrivateKey.generate())
    signer = signer_for(Params(evidence_signing=f"file:{pem}"))
    assert isinstance(signer, FileSigner) and signer.algorithm == "ED25519"


def test_programs_are_never_written_into_a_sealed_run(result, tmp_path: Path, monkeypatch) -> None:
    """import-plan and remediate-plan read a published run's findings: without --output they
    write beside the run folder's findings only when it is not sealed; a sealed run stays as
    its manifest says."""
    folder = write_report(result, tmp_path / "out", "sealed")
    monkeypatch.chdir(tmp_path)
    findings = str(folder / "findings.json")
    assert main(["import-plan", "--findings", findings]) == EXIT_OK
    args = ["remediate-plan", "--findings", findings, "--checks", "versioning"]
    assert main(args) == EXIT_OK
    assert (tmp_path / "pulumi-sealed" / "import.json").is_file()
    assert (tmp_path / "pulumi-sealed" / "remediation_plan.csv").is_file()
    assert not (folder / "pulumi").exists()
    assert verify(str(folder))[0] == EXIT_OK
