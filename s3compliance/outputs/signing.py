"""Signing a run's manifest, and checking a signature against the key an auditor expects.

The signed message is the manifest's SHA-256 as 64 lower-case hex characters (ASCII). An AWS KMS
key signs it with ``MessageType: RAW`` (KMS hashes it again with the algorithm's hash); a local
PEM key (Ed25519 or ECDSA) signs the same bytes with ``cryptography``. Either way anyone holding
the public key can verify offline with a standard library::

    openssl dgst -sha256 -verify public.pem -signature sig.bin message.txt   # ECDSA / RSA

A signature is only ever checked against the key the *verifier* expects (``--public-key`` or the
parameters' ``evidence_signing``), never merely the key that ``manifest.sig.json`` names: a
manifest edited and re-signed with another key is rejected.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

if TYPE_CHECKING:
    from s3compliance.params import Params

#: IAM actions signing and KMS verification need (``iam-policy --with-writes``, when signing).
PERMISSIONS = ("kms:Sign", "kms:Verify", "kms:GetPublicKey")
#: An encrypted PEM key's passphrase is read from this variable, never from the parameters.
PASSPHRASE_ENV = "S3COMPLIANCE_SIGNING_KEY_PASSPHRASE"
#: The KMS algorithms used, in order of preference among those the key offers.
KMS_PREFERENCE = (
    "ECDSA_SHA_256",
    "ECDSA_SHA_384",
    "ECDSA_SHA_512",
    "RSASSA_PKCS1_V1_5_SHA_256",
    "RSASSA_PKCS1_V1_5_SHA_384",
    "RSASSA_PKCS1_V1_5_SHA_512",
    "RSASSA_PSS_SHA_256",
    "RSASSA_PSS_SHA_384",
    "RSASSA_PSS_SHA_512",
)
_HASHES = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
_CURVE_HASH = {"secp256r1": "256", "secp384r1": "384", "secp521r1": "512"}
SIGNATURE_KEYS = ("algorithm", "key", "message", "signature", "signed_at")


class SigningError(RuntimeError):
    """The run asked to be signed and could not be: nothing is published (exit 1)."""


class KeyUnusable(ValueError):
    """A key file that cannot sign or verify (unreadable, not PEM, wrong type): exit 2."""


def parse_signing(spec: str) -> tuple[str, str]:
    """``kms:<key id or ARN>`` or ``file:<PEM path>`` split into (kind, reference)."""
    kind, sep, ref = spec.partition(":")
    if not sep or kind not in ("kms", "file") or not ref:
        raise KeyUnusable(f"{spec!r}: expected kms:<key id or ARN> or file:<path to a PEM key>")
    return kind, ref


def fingerprint(public_key: Any) -> str:
    """``sha256:<hex>`` of the public key's DER SubjectPublicKeyInfo: names a local key."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "sha256:" + hashlib.sha256(der).hexdigest()


def _read_key(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise KeyUnusable(f"{path}: cannot read the {what} ({exc.strerror})") from None


def load_private_key(path: str | Path) -> Any:
    """An Ed25519 or ECDSA private key from a PEM file; :class:`KeyUnusable` says why not."""
    path = Path(path)
    data = _read_key(path, "signing key")
    passphrase = os.environ.get(PASSPHRASE_ENV)
    try:
        key = serialization.load_pem_private_key(data, passphrase.encode() if passphrase else None)
    except TypeError:
        raise KeyUnusable(
            f"{path}: the key is encrypted; set {PASSPHRASE_ENV} to its passphrase"
        ) from None
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise KeyUnusable(f"{path}: not a PEM private key ({exc})") from None
    if not isinstance(key, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
        raise KeyUnusable(f"{path}: a {type(key).__name__}; sign with an Ed25519 or ECDSA key")
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name not in _CURVE_HASH:
        raise KeyUnusable(f"{path}: curve {key.curve.name}; use P-256, P-384 or P-521")
    return key


def load_public_key(path: str | Path) -> Any:
    """A PEM public key (what an auditor is given), or the public half of a PEM private key."""
    path = Path(path)
    data = _read_key(path, "public key")
    if b"PRIVATE KEY" in data:
        return load_private_key(path).public_key()
    try:
        return serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise KeyUnusable(f"{path}: not a PEM public key ({exc})") from None


class Signer(Protocol):
    """Signs the manifest digest; ``key`` and ``algorithm`` go into ``manifest.sig.json``."""

    key: str
    algorithm: str

    def sign(self, message: bytes) -> bytes: ...


@dataclass
class FileSigner:
    """A local Ed25519 or ECDSA key, for teams without KMS."""

    private_key: Any
    key: str = ""
    algorithm: str = ""

    def __post_init__(self) -> None:
        self.key = fingerprint(self.private_key.public_key())
        if isinstance(self.private_key, ed25519.Ed25519PrivateKey):
            self.algorithm = "ED25519"
        else:
            self.algorithm = f"ECDSA_SHA_{_CURVE_HASH[self.private_key.curve.name]}"

    def sign(self, message: bytes) -> bytes:
        if self.algorithm == "ED25519":
            return self.private_key.sign(message)
        return self.private_key.sign(message, ec.ECDSA(_HASHES[self.algorithm[-3:]]()))


@dataclass
class KmsSigner:
    """An asymmetric KMS key (``SIGN_VERIFY``): the private key never leaves KMS."""

    client: Any
    key_id: str
    retry: Any = None
    key: str = ""
    algorithm: str = ""

    def prepare(self) -> KmsSigner:
        """Read the key (``GetPublicKey``) before any scan: a key that cannot sign fails the
        run at its start, not after an hour of scanning."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            info = self._call(self.client.get_public_key, KeyId=self.key_id)
        except (ClientError, BotoCoreError) as exc:
            raise SigningError(f"KMS key {self.key_id}: GetPublicKey failed: {exc}") from None
        if info.get("KeyUsage") != "SIGN_VERIFY":
            raise SigningError(
                f"KMS key {self.key_id}: key usage {info.get('KeyUsage')}, not SIGN_VERIFY"
            )
        offered = info.get("SigningAlgorithms", [])
        usable = [a for a in KMS_PREFERENCE if a in offered]
        if not usable:
            raise SigningError(f"KMS key {self.key_id}: no supported signing algorithm {offered}")
        self.key, self.algorithm = info["KeyId"], usable[0]
        return self

    def _call(self, fn: Any, **kwargs: Any) -> Any:
        return self.retry.call(fn, **kwargs) if self.retry else fn(**kwargs)

    def sign(self, message: bytes) -> bytes:
        if not self.algorithm:
            self.prepare()
        response = self._call(
            self.client.sign,
            KeyId=self.key,
            Message=message,
            MessageType="RAW",
            SigningAlgorithm=self.algorithm,
        )
        self.key = response.get("KeyId") or self.key  # Sign answers with the key's ARN
        return response["Signature"]


def signature_document(signer: Signer, manifest_sha256: str, now: datetime | None = None) -> dict:
    """``manifest.sig.json``: raises :class:`SigningError` when the signer fails."""
    message = manifest_sha256.encode("ascii")
    try:
        signature = signer.sign(message)
    except SigningError:
        raise
    except Exception as exc:  # any failure: an unsigned run where signing was asked is no evidence
        raise SigningError(f"signing with {signer.key or 'the key'} failed: {exc}") from exc
    return {
        "algorithm": signer.algorithm,
        "key": signer.key,
        "message": manifest_sha256,
        "signature": base64.b64encode(signature).decode("ascii"),
        "signed_at": (now or datetime.now(UTC)).isoformat(timespec="seconds"),
    }


def verify_offline(document: dict, public_key: Any) -> str | None:
    """None when ``document``'s signature over its message is valid for ``public_key``, else
    why not (one phrase). The algorithm must fit the key's type."""
    try:
        signature = base64.b64decode(document["signature"], validate=True)
    except ValueError:
        return "signature is not base64"
    message = document["message"].encode("ascii")
    algorithm = document["algorithm"]
    try:
        if isinstance(public_key, ed25519.Ed25519PublicKey) and algorithm == "ED25519":
            public_key.verify(signature, message)
        elif isinstance(public_key, ec.EllipticCurvePublicKey) and algorithm.startswith("ECDSA_"):
            public_key.verify(signature, message, ec.ECDSA(_HASHES[algorithm[-3:]]()))
        elif isinstance(public_key, rsa.RSAPublicKey) and algorithm.startswith("RSASSA_"):
            digest = _HASHES[algorithm[-3:]]()
            pad = (
                padding.PSS(mgf=padding.MGF1(digest), salt_length=padding.PSS.AUTO)
                if "_PSS_" in algorithm
                else padding.PKCS1v15()
            )
            public_key.verify(signature, message, pad, digest)
        else:
            return f"algorithm {algorithm} does not fit the expected {type(public_key).__name__}"
    except InvalidSignature:
        return "signature invalid for the expected key"
    return None


def key_region(key_id: str) -> str | None:
    """The region of a key ARN (``arn:aws:kms:<region>:...``); None for a bare key id."""
    parts = key_id.split(":")
    return parts[3] if key_id.startswith("arn:") and len(parts) > 5 and parts[3] else None


def kms_client(params: Params, key_id: str) -> Any:
    """A KMS client for the key's region (its ARN's, else the home region), with the run's
    credentials and endpoint."""
    from s3compliance.scan.aws import Clients, make_session

    region = key_region(key_id) or params.home_region
    return Clients(make_session(params.aws_profile), params.endpoint_url).client("kms", region)


def signer_for(params: Params) -> Signer | None:
    """The signer ``evidence_signing`` asks for (None when it is unset). A KMS key is read now
    (``GetPublicKey``): call this before the scan, so a key that cannot sign stops the run
    before any work is done."""
    if not params.evidence_signing:
        return None
    kind, ref = parse_signing(params.evidence_signing)
    if kind == "file":
        return FileSigner(load_private_key(ref))
    from s3compliance.scan.retry import RetryPolicy

    retry = RetryPolicy(params.retry_attempts, params.retry_max_wait_s)
    return KmsSigner(kms_client(params, ref), ref, retry).prepare()
