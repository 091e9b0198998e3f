"""The package layout follows the data's path, and its arrows point one way.

scan -> checks -> accepted -> outputs; iac, actions and testing beside them; watch on top. These
tests read the source (AST) for the import graph and run fresh interpreters for what a command
really loads.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from conftest import flagged_bucket, minimal_report

import s3compliance
from s3compliance.checks import _REGISTERED, CATALOGUE, ORDER, Settings
from s3compliance.checks.documents import DOCUMENTS
from s3compliance.scan.evidence import FETCHERS
from s3compliance.scan.scanner import Scanner

PACKAGE = Path(s3compliance.__file__).parent
FOLDERS = {
    "scan",
    "checks",
    "accepted",
    "outputs",
    "iac",
    "actions",
    "testing",
    "schemas",
    "cli",
    "watch",  # the change watcher: events in, delta runs out (docs/tasks/history.md)
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, top_level_only: bool) -> set[str]:
    """The s3compliance modules a file imports (``from a import b`` counts ``a.b`` when it is a
    module). ``top_level_only`` leaves out imports inside functions (they run later, lazily)."""
    tree = ast.parse(path.read_text())
    # imports under a module-level `if`/`try` count; those under `if TYPE_CHECKING:` never run
    nodes = [
        n
        for stmt in tree.body
        if not (isinstance(stmt, ast.If) and "TYPE_CHECKING" in ast.unparse(stmt.test))
        if not (top_level_only and isinstance(stmt, ast.FunctionDef | ast.ClassDef))
        for n in ast.walk(stmt)
    ]
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            submodules = {f"{node.module}.{a.name}" for a in node.names} & set(MODULES)
            found.update(submodules)
            if len(submodules) < len(node.names):  # a name of the module itself, not a submodule
                found.add(node.module)
    return {name for name in found if name.split(".")[0] == "s3compliance"}


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _graph(top_level_only: bool) -> dict[str, set[str]]:
    return {
        name: {m for m in _imports(path, top_level_only) if m in MODULES and m != name}
        for name, path in MODULES.items()
    }


def test_the_top_holds_only_the_face_the_parameters_and_the_folders() -> None:
    files = {p.name for p in PACKAGE.iterdir() if p.is_file() and p.suffix == ".py"}
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert files == {"__init__.py", "__main__.py", "params.py"}
    assert folders == FOLDERS


@pytest.mark.parametrize("top_level_only", [True, False], ids=["module level", "lazy included"])
def test_no_import_cycle_between_modules(top_level_only: bool) -> None:
    """Imports form no cycle: no module imports one that (through others) imports it back, at
    module level or inside a function (a lazy import hides a circle, it does not remove it).
    ``from package import submodule`` is an edge to the submodule only: Python initialises a
    package before its submodules, and that alone is no cycle."""
    graph = _graph(top_level_only)
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = [*stack[stack.index(nxt) :], nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def _importers(prefix: str, top_level_only: bool = False) -> dict[str, set[str]]:
    return {
        name: deps
        for name, deps in _graph(top_level_only).items()
        if name == prefix or name.startswith(prefix + ".")
    }


@pytest.mark.parametrize(
    ("importer", "forbidden"),
    [
        ("s3compliance.checks", "s3compliance.scan"),  # checks never fetch
        ("s3compliance.checks", "s3compliance.actions"),
        ("s3compliance.scan", "s3compliance.actions"),  # the scan never imports a writer
        ("s3compliance.scan", "s3compliance.outputs"),
        ("s3compliance.scan", "s3compliance.testing"),
        ("s3compliance.outputs", "s3compliance.iac.pulumi_import"),  # report != generator
        ("s3compliance.actions", "s3compliance.outputs"),
        ("s3compliance.iac", "s3compliance.scan"),  # plans from findings, no AWS call
        # accepted risks: a pure step between the checks and the outputs that calls nothing
        ("s3compliance.accepted", "s3compliance.scan"),
        ("s3compliance.accepted", "s3compliance.outputs"),
        ("s3compliance.accepted", "s3compliance.actions"),
        ("s3compliance.accepted", "s3compliance.iac"),
        ("s3compliance.accepted", "s3compliance.params"),
        ("s3compliance.checks", "s3compliance.accepted"),
        # the watcher sits on top: it uses the scan and the run folders, nothing below uses it
        ("s3compliance.scan", "s3compliance.watch"),
        ("s3compliance.outputs", "s3compliance.watch"),
        ("s3compliance.actions", "s3compliance.watch"),
        ("s3compliance.watch", "s3compliance.testing"),
    ],
)
def test_arrows_point_down_the_data_path(importer: str, forbidden: str) -> None:
    """Every import counts here, lazy ones inside functions too."""
    offending = {
        name: sorted(d for d in deps if d == forbidden or d.startswith(forbidden + "."))
        for name, deps in _importers(importer).items()
    }
    assert {k: v for k, v in offending.items() if v} == {}


def _fresh(code: str) -> dict:
    """Run ``code`` in a new interpreter; it prints one JSON value as its last line."""
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


LOADED = (
    "import json, sys; print(json.dumps(sorted(m for m in sys.modules "
    "if m.startswith(('s3compliance', 'boto3', 'botocore', 'pandas')))))"
)


def test_checks_import_no_aws_sdk_and_nothing_of_the_scan() -> None:
    loaded = _fresh("import s3compliance.checks\n" + LOADED)
    assert "s3compliance.checks.mission" in loaded
    assert not [m for m in loaded if m.startswith(("boto3", "botocore", "s3compliance.scan"))]


def test_accepted_risks_load_no_aws_sdk_and_the_parameters_no_pandas() -> None:
    """The exceptions step calls nothing; reading the parameters (which validates the
    exceptions file) stays as light as before."""
    loaded = _fresh("import s3compliance.accepted.apply\n" + LOADED)
    assert "s3compliance.accepted.exceptions" in loaded
    assert not [m for m in loaded if m.startswith(("boto3", "botocore", "s3compliance.scan"))]
    loaded = _fresh("import s3compliance.params\n" + LOADED)
    assert "s3compliance.accepted.exceptions" in loaded
    assert not [m for m in loaded if m.startswith(("pandas", "s3compliance.accepted.apply"))]


def test_help_loads_neither_the_sdk_nor_pandas() -> None:
    code = (
        "import contextlib, io\nfrom s3compliance.cli import main\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['--help'])\n" + LOADED
    )
    loaded = _fresh(code)
    assert "s3compliance.cli" in loaded
    assert not [
        m for m in loaded if m.startswith(("boto3", "botocore", "pandas", "s3compliance.scan"))
    ]


def test_import_plan_imports_nothing_under_scan(tmp_path: Path) -> None:
    report = minimal_report(flagged_bucket("flagged"))
    findings = tmp_path / "findings.json"
    findings.write_text(json.dumps(report))
    code = (
        "import contextlib, io\nfrom s3compliance.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    assert main(['import-plan', '--findings', {str(findings)!r}]) == 0\n" + LOADED
    )
    loaded = _fresh(code)
    assert "s3compliance.iac.pulumi_import" in loaded
    assert not [m for m in loaded if m.startswith(("s3compliance.scan", "boto3"))]
    assert (tmp_path / "pulumi" / "__main__.py").exists()


def test_the_watch_setup_generator_loads_nothing_of_the_scan_or_the_watch_loop() -> None:
    """It shares the rule's declarations with the watcher (``watch.rule``), nothing else."""
    loaded = _fresh("import s3compliance.iac.watch_setup\n" + LOADED)
    assert "s3compliance.watch.rule" in loaded
    assert not [
        m
        for m in loaded
        if m.startswith(("boto3", "botocore", "s3compliance.scan", "s3compliance.watch.loop"))
    ]


def test_old_flat_paths_still_import_with_a_deprecation_warning() -> None:
    code = (
        "import json, warnings\nwarnings.simplefilter('always')\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    from s3compliance.report import write_report\n"
        "    from s3compliance import runner\n"
        "    import s3compliance.tagging as tagging\n"
        "    from s3compliance.scan import run_scan\n"
        "print(json.dumps([write_report.__module__, runner.__name__, tagging.__name__,\n"
        "    run_scan.__module__, [(w.category.__name__, str(w.message), w.filename)\n"
        "    for w in caught]]))"
    )
    report_mod, runner, tagging, scan_mod, caught = _fresh(code)
    assert (report_mod, runner, tagging) == (
        "s3compliance.outputs.report",
        "s3compliance.outputs.notebook",
        "s3compliance.actions.tagging",
    )
    assert scan_mod == "s3compliance.scan.run"  # the package re-exports it, no warning
    assert [(c[0], c[1].split(" has moved")[0]) for c in caught] == [
        ("DeprecationWarning", "s3compliance.report"),
        ("DeprecationWarning", "s3compliance.runner"),
        ("DeprecationWarning", "s3compliance.tagging"),
    ]
    assert all(c[2] == "<string>" for c in caught)  # points at the importing line


def test_old_paths_in_this_process_and_unknown_names() -> None:
    sys.modules.pop("s3compliance.emulation", None)
    vars(s3compliance).pop("emulation", None)
    with pytest.warns(DeprecationWarning, match=r"s3compliance\.testing\.emulation"):
        old = s3compliance.emulation
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert s3compliance.emulation is old  # warned once
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = s3compliance.nothing
    with pytest.raises(ModuleNotFoundError):
        __import__("s3compliance.nothing")
    import s3compliance.scan as scan_package

    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = scan_package.nothing


def test_every_declared_document_has_a_fetcher_and_every_fetcher_a_declaration() -> None:
    assert set(FETCHERS) == set(DOCUMENTS) - {"caller"}


def test_the_catalogue_order_is_explicit_and_complete() -> None:
    assert list(CATALOGUE) == list(ORDER)
    assert set(ORDER) == set(_REGISTERED)
    assert list(ORDER[:5]) == [
        "versioning",
        "encryption",
        "lifecycle",
        "public_access",
        "cloudwatch_metrics",
    ]


def test_settings_are_built_by_keyword_from_the_parameters(params) -> None:
    from dataclasses import replace

    p = replace(
        params,
        lifecycle_max_age_days=7,
        allowed_sse_algorithms=["aws:kms"],
        trusted_account_ids=["111122223333"],
        log_target_buckets=["logs-*"],
    )
    scanner = Scanner(p, clients=object())  # type: ignore[arg-type] - no AWS call is made
    assert scanner.settings == Settings(
        lifecycle_max_age_days=7,
        allowed_sse_algorithms=("aws:kms",),
        trusted_account_ids=("111122223333",),
        log_target_buckets=("logs-*",),
    )


def test_old_dotted_path_in_this_process_goes_through_the_finder() -> None:
    import importlib

    from s3compliance.outputs import charts

    sys.modules.pop("s3compliance.charts", None)
    vars(s3compliance).pop("charts", None)
    try:
        with pytest.warns(DeprecationWarning, match=r"s3compliance\.outputs\.charts"):
            old = importlib.import_module("s3compliance.charts")
        assert old is charts
    finally:
        sys.modules.pop("s3compliance.charts", None)
        vars(s3compliance).pop("charts", None)


def test_the_scan_package_re_exports_the_scanners_names() -> None:
    import s3compliance.scan as scan_package
    from s3compliance.scan import run, scanner

    assert scan_package.run_scan is run.run_scan
    assert scan_package.ScanResult is scanner.ScanResult is run.ScanResult


def test_the_renamed_scan_modules_still_import_for_a_release() -> None:
    """``scan.engine`` (the single-account scanner and ``run_scan``) and ``scan.engines`` (the
    organization scanner) differed by one letter: they are ``scan.scanner`` + ``scan.run`` and
    ``scan.org_scanner`` now, and the old paths import with a warning naming the new one."""
    code = (
        "import json, warnings\n"
        "warnings.simplefilter('always')\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    from s3compliance.scan.engine import run_scan, Scanner\n"
        "    from s3compliance.scan.engines import OrgScanner\n"
        "    from s3compliance.scan import engine\n"
        "print(json.dumps([run_scan.__module__, Scanner.__module__, OrgScanner.__module__,\n"
        "    engine.__name__, [str(w.message).split(';')[0] for w in caught]]))"
    )
    run_mod, scanner_mod, org_mod, engine_name, caught = _fresh(code)
    assert (run_mod, scanner_mod, org_mod, engine_name) == (
        "s3compliance.scan.run",
        "s3compliance.scan.scanner",
        "s3compliance.scan.org_scanner",
        "s3compliance.scan.run",
    )
    assert caught == [
        "s3compliance.scan.engine has moved to s3compliance.scan.run",
        "s3compliance.scan.engines has moved to s3compliance.scan.org_scanner",
    ]


def test_reloading_the_package_installs_the_finder_once() -> None:
    import importlib

    importlib.reload(s3compliance)
    importlib.reload(s3compliance)
    assert [type(f).__qualname__ for f in sys.meta_path].count("_MovedFinder") == 1


def test_an_expected_error_class_whose_module_is_not_loaded_is_skipped(monkeypatch) -> None:
    from s3compliance import cli

    monkeypatch.delitem(sys.modules, "s3compliance.scan.scanner")
    assert cli.expected_error(PermissionError("ro")) == ("cannot write the output", 1)
