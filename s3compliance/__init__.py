"""Audit the S3 buckets of an AWS account for compliance.

The public entry point is :func:`s3compliance.scan.run_scan`; the rest of the package is
organised one module per concern (discovery, evidence, checks, retry, report, params, demo).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("s3compliance")
except PackageNotFoundError:  # pragma: no cover - only when run from a source tree never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
