"""The reference pages, made from the code that does the work at every `mkdocs build`.

Run by mkdocs-gen-files (``mkdocs.yml``): the check catalogue from the registry, the parameters
from the schema that validates them, the CLI from its argument parser, the IAM policies from
``iam_policy()`` and the findings schema from its file. A new check, parameter or command appears
here without editing a page; nothing below is kept twice by hand.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path

import mkdocs_gen_files

from s3compliance import cli
from s3compliance.checks import CATALOGUE, ORDER, PROFILES
from s3compliance.checks.documents import DOCUMENTS
from s3compliance.checks.registry import Settings
from s3compliance.iac.iam import iam_policy
from s3compliance.params import KEYS, SCHEMA, SECTIONS, Params, yaml_value

ROOT = Path(__file__).resolve().parent.parent


def cell(text: str) -> str:
    """Text for a Markdown table cell: pipes escaped, one line."""
    return " ".join(str(text).split()).replace("|", "\\|")


def checks_page() -> Iterator[str]:
    yield "# Check catalogue\n"
    yield (
        "Every check the scanner runs, in catalogue order, generated from the registry "
        "(`s3compliance/checks/`). A check is a pure function over the documents fetched once "
        "per bucket; the IAM actions are those of its documents, and its framework controls "
        "come from `s3compliance/checks/mappings/`. A required document that cannot be read "
        "makes the check ERROR, never PASS ([ERROR and FAIL](../concepts/errors.md)).\n"
    )
    in_profiles = {cid: [p for p in sorted(PROFILES) if cid in PROFILES[p]] for cid in ORDER}
    yield "| id | severity | scope | profiles | PASS when |"
    yield "|---|---|---|---|---|"
    for cid in ORDER:
        check = CATALOGUE[cid]
        profiles = ", ".join(in_profiles[cid])
        yield (
            f"| [`{cid}`](#{cid}) | {check.severity} | {check.scope} | {profiles} "
            f"| {cell(check.title)} |"
        )
    yield ""
    settings = Settings()
    for cid in ORDER:
        check = CATALOGUE[cid]
        yield f"## {cid}\n"
        yield f"**{check.title}.** Severity **{check.severity}**, one finding per {check.scope}.\n"
        if check.description:
            yield "\n".join(line.strip() for line in check.description.splitlines()) + "\n"
        yield f"- Violation: {check.violation_text(settings)}"
        yield f"- Remediation: {check.remediation}"
        documents = ", ".join(
            f"`{d}` ({DOCUMENTS[d].api}{', corroborating' if d in check.corroborating else ''})"
            for d in check.documents
        )
        yield f"- Documents: {documents}"
        yield f"- IAM actions: {', '.join(f'`{p}`' for p in check.permissions)}"
        controls = ", ".join(check.frameworks) or "none"
        yield f"- Framework controls: {controls}"
        yield f"- Profiles: {', '.join(in_profiles[cid]) or 'none (pick it with `checks:`)'}\n"


def _type(spec: dict) -> str:
    if "enum" in spec:
        return " / ".join(f"`{yaml_value(v)}`" for v in spec["enum"])
    if "const" in spec:
        return f"`{spec['const']}`"
    if "oneOf" in spec:
        return " or ".join(_type(s) for s in spec["oneOf"])
    kind = spec.get("type", "")
    kinds = kind if isinstance(kind, list) else [kind]
    if "array" in kinds:
        return "list of " + (_type(spec.get("items", {})) or "values")
    return " or ".join(k for k in kinds if k)


def _limits(spec: dict) -> str:
    parts = []
    if "minimum" in spec or "maximum" in spec:
        parts.append(f"{spec.get('minimum', '')}..{spec.get('maximum', '')}")
    if "pattern" in spec:
        parts.append(f"pattern `{spec['pattern']}`")
    return "; ".join(parts)


def parameters_page() -> Iterator[str]:
    yield "# Parameters\n"
    yield (
        "One YAML format for the CLI and the notebooks. Every key is optional; a file is "
        "validated before any AWS call, and an unknown key, a wrong type, an out-of-range "
        "number, an unknown check id or an unknown region is an error naming the key and the "
        "file. This page and `params/default.yaml` are both made from the schema in "
        "`s3compliance/params.py` (its descriptions and `Params`' defaults).\n"
    )
    defaults = Params().to_dict()
    for key in KEYS:
        if key in SECTIONS or key == KEYS[0]:
            yield f"\n## {SECTIONS.get(key, 'Parameters')}\n"
            yield "| key | default | type | meaning |"
            yield "|---|---|---|---|"
        spec = SCHEMA["properties"][key]
        kind = cell(_type(spec) + (f" ({_limits(spec)})" if _limits(spec) else ""))
        yield (
            f"| `{key}` | `{yaml_value(defaults[key])}` | {kind} | {cell(spec['description'])} |"
        )
    yield "\nThe whole file, as shipped (`params/default.yaml`):\n"
    yield "```yaml"
    yield (ROOT / "params" / "default.yaml").read_text().rstrip()
    yield "```"


def cli_page() -> Iterator[str]:
    parser = cli._parser()
    yield "# Command line\n"
    yield (
        "`s3compliance <command> --help` prints the same text: this page is made from the "
        "argument parser (`s3compliance/cli/`). Exit codes: 0 compliant, 3 findings (a "
        "normal outcome for a report), 2 bad input (one line on stderr), 1 anything else.\n"
    )
    yield "```text"
    yield parser.format_help().rstrip()
    yield "```\n"
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, command in sub.choices.items():
        yield f"## {name}\n"
        yield "```text"
        yield command.format_help().rstrip()
        yield "```\n"


def iam_page() -> Iterator[str]:
    yield "# IAM policies\n"
    yield (
        "What `s3compliance iam-policy` prints: exactly the actions each check's documents "
        "need, read-only by default. Made from `s3compliance/iac/iam.py` at every build.\n"
    )
    for title, kwargs in (
        ("The mission profile (the default)", {}),
        ("Every check (`profile: all`)", {"profile": "all"}),
        ('Every region (`regions: ["*"]`)', {"all_regions": True}),
        ("With the opt-in writers (`--with-writes`)", {"with_writes": True}),
        (
            "The scanning account of an organization scan",
            {"organization_role": "OrganizationAccountAccessRole"},
        ),
    ):
        yield f"## {title}\n"
        yield "```json"
        yield json.dumps(iam_policy(**kwargs), indent=2)
        yield "```\n"


def schema_page() -> Iterator[str]:
    schema = ROOT / "s3compliance" / "schemas" / "findings.schema.json"
    yield "# Findings schema\n"
    yield (
        "`findings.json` is validated against this JSON Schema before it is written "
        "(`s3compliance/schemas/findings.schema.json`, shown as it is).\n"
    )
    yield "```json"
    yield schema.read_text().rstrip()
    yield "```"


PAGES = {
    "reference/checks.md": checks_page,
    "reference/parameters.md": parameters_page,
    "reference/cli.md": cli_page,
    "reference/iam.md": iam_page,
    "reference/findings-schema.md": schema_page,
}

for path, make in PAGES.items():
    with mkdocs_gen_files.open(path, "w") as fh:
        fh.write("\n".join(make()) + "\n")
    mkdocs_gen_files.set_edit_path(path, "gen_reference.py")
