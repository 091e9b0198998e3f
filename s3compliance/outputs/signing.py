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
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from s3compliance.outputs.signing_keys import (
    _CURVE_HASH,
    PASSPHRASE_ENV,
    KeyUnusable,
    load_private_key,
    load_public_key,
    parse_signing,
)

if TYPE_CHECKING:
    from s3compliance.params import Params

# re-exported: their home is signing_keys (what validating the parameters imports)
__all__ = ["PASSPHRASE_ENV", "KeyUnusable", "load_private_key", "load_public_key", "parse_signing"]

#: IAM actions signing and KMS verification need (``iam-policy --with-writes``, when signing).
PERMISSIONS = ("kms:Sign", "kms:Verify", "kms:GetPublicKey")
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
SIGNATURE_KEYS = ("algorithm", "key", "message", "signature", "signed_at")


class SigningError(RuntimeError):
    """The run asked to be signed and could not be: nothing is published (exit 1)."""


def fingerprint(public_key: Any) -> str:
    """``sha256:<hex>`` of the public key's DER SubjectPublicKeyInfo: names a local key."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "sha256:" + hashlib.sha256(der).hexdigest()


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
