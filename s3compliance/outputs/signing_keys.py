"""Signing keys read from files, and the ``evidence_signing`` value parsed: no AWS, no run.

Split from :mod:`s3compliance.outputs.signing` so that validating the parameters (a key that
cannot sign is a bad parameter, said before any work) imports only this: the signer itself
reaches KMS through the scan's clients, and the parameters sit above those.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

#: An encrypted PEM key's passphrase is read from this variable, never from the parameters.
PASSPHRASE_ENV = "S3COMPLIANCE_SIGNING_KEY_PASSPHRASE"
_CURVE_HASH = {"secp256r1": "256", "secp384r1": "384", "secp521r1": "512"}


class KeyUnusable(ValueError):
    """A key file that cannot sign or verify (unreadable, not PEM, wrong type): exit 2."""


def parse_signing(spec: str) -> tuple[str, str]:
    """``kms:<key id or ARN>`` or ``file:<PEM path>`` split into (kind, reference)."""
    kind, sep, ref = spec.partition(":")
    if not sep or kind not in ("kms", "file") or not ref:
        raise KeyUnusable(f"{spec!r}: expected kms:<key id or ARN> or file:<path to a PEM key>")
    return kind, ref


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
