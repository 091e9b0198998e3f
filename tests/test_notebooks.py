"""The report notebook: parameters, clean sources, papermill runs, nbval regression."""

from __future__ import annotations

import ast
import json
import runpy
import shutil
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import nbformat
import papermill
import pulumi
import pytest
import yaml

from s3compliance.cli import EXIT_FAILURE, EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, main
from s3compliance.outputs import notebook as runner
from s3compliance.params import KEYS, Params, ParamsError

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "compliance_report.ipynb"
REGRESSION = ROOT / "tests" / "regression"


def declared() -> dict:
    return papermill.inspect_notebook(str(NOTEBOOK))


def test_parameters_cell_declares_every_params_key_with_its_default_and_help() -> None:
    params = declared()
    assert set(params) == set(KEYS) | set(runner.NOTEBOOK_ONLY)
    defaults = Params()
    for f in fields(Params):
        # output_dir: None in the notebook means "the project's output/" (see notebook_params)
        expected = None if f.name == "output_dir" else getattr(defaults, f.name)
        assert ast.literal_eval(params[f.name]["default"]) == expected, f.name
        assert params[f.name]["help"], f"{f.name} needs a help comment"
        assert params[f.name]["inferred_type_name"] != "None", f"{f.name} needs a type"


@pytest.mark.parametrize(
    "path",
    # exceptions.*.yaml are exceptions files (tests/test_accepted.py), not parameters
    sorted(p for p in (ROOT / "params").glob("*.yaml") if not p.name.startswith("exceptions.")),
    ids=lambda p: p.name,
)
def test_every_params_file_key_is_a_notebook_parameter(path: Path) -> None:
    assert set(yaml.safe_load(path.read_text()) or {}) <= set(declared())


@pytest.mark.parametrize("name", ["compliance_report.ipynb", "explore.ipynb"])
def test_notebooks_folder_holds_only_clean_sources(name: str) -> None:
    files = sorted(p.name for p in (ROOT / "notebooks").iterdir())
    assert files == ["compliance_report.ipynb", "explore.ipynb"], "no scratch notebooks"
    nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:40]
            if "parameters" not in cell.metadata.get("tags", []):
                assert len(cell.source.splitlines()) <= 8, (
                    "cells stay small; logic is in the library"
                )
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1


def test_notebook_params_validates_the_namespace() -> None:
    namespace = {"regions": ["eu-west-1"], "max_workers": 2, "unrelated": object()}
    assert runner.notebook_params(namespace).regions == ["eu-west-1"]
    with pytest.raises(ParamsError, match="notebook parameters: key 'max_workers'"):
        runner.notebook_params({"max_workers": -1})


def test_run_date_defaults_to_today() -> None:
    assert runner.run_date_of(Params(run_date="2026-01-02")) == "2026-01-02"
    assert len(runner.run_date_of(Params())) == 10


def test_open_scanner_starts_a_fresh_demo_account_each_time() -> None:
    params = Params(demo=True, include=["demo-dsse-*"], max_workers=2)
    first = runner.open_scanner(params)
    assert len(first.discover()) == 5
    second = runner.open_scanner(params)  # re-running the cell re-seeds
    assert len(second.discover()) == 5
    runner._demo_account.stop()
    runner._demo_account = None
    assert runner.open_scanner(Params()).clients.endpoint_url is None


def test_demo_run_writes_every_artefact(tmp_path: Path, capsys) -> None:
    code = main(["demo", "--output-dir", str(tmp_path), "--run-id", "nb-demo"])
    assert code == EXIT_FINDINGS
    folder = tmp_path / "nb-demo"
    assert sorted(p.name for p in folder.iterdir()) == [
        "buckets.parquet",
        "compliance_report.ipynb",
        "failures_by_check.png",
        "findings.csv",
        "findings.json",
        "findings.ocsf.json",
        "findings.parquet",
        "frameworks.png",
        "heatmap.png",
        "manifest.json",
        "pulumi",
        "report.html",
        "run.json",
        "severity.png",
        "status.png",
        "tags_applied.csv",
    ]
    assert (tmp_path / "latest").resolve() == folder.resolve()
    out = capsys.readouterr().out
    assert "Buckets: 138 total, 58 compliant, 78 non-compliant, 2 unknown" in out
    assert f"Run folder: {folder}" in out
    html = (folder / "report.html").read_text()
    assert "open_scanner" not in html, "code cells are hidden in the HTML report"
    assert 'alt="Heat map: PASS, FAIL or ERROR' in html and "No description" not in html
    executed = nbformat.read(folder / "compliance_report.ipynb", as_version=4)
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert "demo = True" in injected[0].source
    # the Export cell names the published folder, not the staging one it wrote into
    printed = "".join(o.get("text", "") for c in executed.cells for o in c.get("outputs", []))
    assert f"Run folder: {folder}\n" in printed and ".partial" not in printed
    # the first run in this output folder: no history yet, said in both sections, no trend.png
    assert printed.count("first run: no history yet") == 2
    report = json.loads((folder / "findings.json").read_text())
    assert report["summary"]["total_buckets"] == 138
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == [".chain.json"]
    # the run folder's Pulumi program adopts exactly the non-compliant buckets (mocked Pulumi)
    from test_pulumi_import import Recorder

    mocks = Recorder()
    pulumi.runtime.set_mocks(mocks, project="p", stack="s", preview=False)
    namespace = runpy.run_path(str(folder / "pulumi" / "__main__.py"))

    @pulumi.runtime.test
    def settle():
        return pulumi.Output.all(*[r.urn for r in namespace["RESOURCES"].values()])

    settle()
    adopted = {a.resource_id for a in mocks.created if a.typ == "aws:s3/bucket:Bucket"}
    flagged = {b["bucket_name"] for b in report["non_compliant_buckets"]}
    assert adopted == flagged and len(flagged) == 78
    imported = json.loads((folder / "pulumi" / "import.json").read_text())["resources"]
    assert {r["id"] for r in imported} == flagged
    _evidence_of_the_demo_run(tmp_path, folder, capsys)


def _evidence_of_the_demo_run(out: Path, folder: Path, capsys) -> None:
    """docs/tasks/evidence.md: the manifest covers the report and every file the notebook wrote
    (the Pulumi program too); the report's top says what it chains to; ``verify`` passes, then
    names the report once a byte of it changes."""
    import hashlib

    from s3compliance.outputs.notebook import export_html, export_html_apart

    manifest = json.loads((folder / "manifest.json").read_text())
    listed = {f["path"]: f["sha256"] for f in manifest["files"]}
    assert "pulumi/__main__.py" in listed and "compliance_report.ipynb" in listed
    html = (folder / "report.html").read_bytes()
    assert listed["report.html"] == hashlib.sha256(html).hexdigest()
    assert b'id="evidence"' in html and b'aria-label="Evidence"' in html
    assert b"first run of this output folder's chain" in html
    assert b"manifest not signed" in html and b"not archived" in html
    capsys.readouterr()
    assert main(["verify", str(out)]) == EXIT_OK
    assert "OK nb-demo: " in capsys.readouterr().out
    # a chained, signed, archived run's header: every value escaped (it comes from records)
    export_html(
        folder / "compliance_report.ipynb",
        out / "header.html",
        evidence={
            "run_id": "r2",
            "previous_run_id": "nb-demo<script>",
            "previous_manifest_sha256": "ab" * 32,
            "signed_by": "arn:aws:kms:us-east-1:111122223333:key/k",
            "algorithm": "ECDSA_SHA_256",
            "archive": "s3://evidence-archive/runs/r2/",
        },
    )
    header = (out / "header.html").read_text()
    assert "chains to run <code>nb-demo&lt;script&gt;</code>" in header
    assert f'<code class="evidence-previous">{"ab" * 32}</code>' in header
    assert '(ECDSA_SHA_256) by <code class="evidence-key">arn:aws:kms:' in header
    assert '<code class="evidence-archive">s3://evidence-archive/runs/r2/</code>' in header
    (out / "header.html").unlink()
    export_html(folder / "compliance_report.ipynb", out / "plain.html")  # not published: no header
    assert 'id="evidence"' not in (out / "plain.html").read_text()
    (out / "plain.html").unlink()
    # rendered in a process of its own (the run's memory): an error there is raised here
    with pytest.raises(FileNotFoundError):
        export_html_apart(folder / "missing.ipynb", out / "never.html")
    assert not (out / "never.html").exists()
    changed = bytearray(html)
    changed[len(changed) // 2] ^= 0x01
    (folder / "report.html").write_bytes(bytes(changed))
    assert main(["verify", str(out)]) == EXIT_FINDINGS
    assert "PROBLEM nb-demo: file changed: report.html" in capsys.readouterr().out


def test_bad_parameter_fails_before_the_kernel_and_writes_nothing(tmp_path: Path, capsys) -> None:
    params = tmp_path / "bad.yaml"
    params.write_text(f"output_dir: {tmp_path / 'out'}\nheatmap_top_n: lots\n")
    assert main(["run", "--params", str(params)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "key 'heatmap_top_n'" in err and str(params) in err
    assert not (tmp_path / "out").exists()


def test_failing_notebook_leaves_no_run_folder(tmp_path: Path, capsys) -> None:
    params = tmp_path / "p.yaml"
    params.write_text(f"output_dir: {tmp_path}\n")
    failing = ROOT / "tests" / "notebooks" / "failing.ipynb"
    code = main(["run", "--params", str(params), "--notebook", str(failing), "--run-id", "r"])
    assert code == EXIT_FAILURE
    err = capsys.readouterr().err
    assert "RuntimeError: the report cell broke" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["failed", "p.yaml"]
    kept = list((tmp_path / "failed").iterdir())
    assert len(kept) == 1 and kept[0].suffix == ".ipynb"


def test_missing_notebook_is_a_clear_error(tmp_path: Path, capsys) -> None:
    params = tmp_path / "p.yaml"
    params.write_text(f"output_dir: {tmp_path / 'o'}\n")
    code = main(["run", "--params", str(params), "--notebook", str(tmp_path / "nope.ipynb")])
    assert code == EXIT_FAILURE
    assert "report notebook not found" in capsys.readouterr().err


def test_plain_papermill_command_for_cron(tmp_path: Path) -> None:
    """`papermill notebook out.ipynb -f params/demo.yaml` works on its own and writes a run."""
    out = tmp_path / "executed.ipynb"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "papermill",
            str(NOTEBOOK),
            str(out),
            "-f",
            str(ROOT / "params" / "demo.yaml"),
            "-p",
            "output_dir",
            str(tmp_path / "output"),
            "-p",
            "run_id",
            "cron",
            "-p",
            "show_progress",
            "False",
            "--no-progress-bar",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    folder = tmp_path / "output" / "cron"
    assert {"findings.json", "heatmap.png"} <= {p.name for p in folder.iterdir()}
    assert (tmp_path / "output" / "latest").resolve() == folder.resolve()


def _nbval(
    workdir: Path, notebook: str = "compliance_report_demo.ipynb"
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--nbval",
            "--nbval-current-env",
            "--nbval-sanitize-with",
            "sanitize.cfg",
            notebook,
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=workdir,
    )


def _regenerate_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("regenerate", REGRESSION / "regenerate.py")
    regenerate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(regenerate)
    return regenerate


def _copy_regression(workdir: Path) -> Path:
    """The stored notebook and its sanitizer in ``workdir``, with the demo account's past runs
    under ``workdir/output`` as regenerate.py seeded them."""
    _regenerate_module().seed_history(workdir)
    for name in ("compliance_report_demo.ipynb", "sanitize.cfg"):
        shutil.copy(REGRESSION / name, workdir / name)
    return workdir / "compliance_report_demo.ipynb"


def test_nbval_regression_of_the_demo_report(tmp_path: Path) -> None:
    """The stored, executed demo notebook re-executes to the same outputs (nbval)."""
    _copy_regression(tmp_path)
    proc = _nbval(tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert " passed" in proc.stdout


def test_stored_regression_copy_matches_the_notebook_source() -> None:
    """The regression copy is the current notebook executed (regenerate.py), not a stale one."""
    source = [c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells]
    stored = nbformat.read(REGRESSION / "compliance_report_demo.ipynb", as_version=4)
    kept = [
        c.source for c in stored.cells if "injected-parameters" not in c.metadata.get("tags", [])
    ]
    assert kept == source


def test_fsbp_profile_end_to_end_on_the_demo(tmp_path: Path, capsys) -> None:
    """params/fsbp.yaml through the CLI and the notebook: every extended check reported."""
    code = main(
        [
            "demo",
            "--params",
            str(ROOT / "params" / "fsbp.yaml"),
            "--output-dir",
            str(tmp_path),
            "--run-id",
            "fsbp",
        ]
    )
    assert code == EXIT_FINDINGS
    report = json.loads((tmp_path / "fsbp" / "findings.json").read_text())
    assert report["parameters"]["profile"] == "fsbp"
    assert set(report["summary"]["by_check"]) == {
        "versioning",
        "encryption",
        "lifecycle",
        "public_access",
        "cloudwatch_metrics",
        "block_public_access",
        "account_block_public_access",
        "public_acl",
        "acls_disabled",
        "ssl_only",
        "cross_account",
        "access_logging",
    }
    assert report["account_findings"][0]["check_id"] == "account_block_public_access"
    assert (tmp_path / "fsbp" / "frameworks.png").exists()
    html = (tmp_path / "fsbp" / "report.html").read_text()
    assert "AWS-FSBP" in html and "account_block_public_access" in html


def test_nbval_regression_of_the_explore_notebook(tmp_path: Path) -> None:
    """explore.ipynb, executed without a frontend on the demo run, re-executes to the same
    outputs: the summary, the widgets' text form and the drill-down of the worst bucket; and a
    stored number that no longer matches (the fleet drifted) fails the comparison. The report
    notebook's copy goes through the same nbval and sanitizer."""
    _regenerate_module().demo_run_folder(tmp_path)
    for name in ("explore_demo.ipynb", "sanitize.cfg"):
        shutil.copy(REGRESSION / name, tmp_path / name)
    proc = _nbval(tmp_path, "explore_demo.ipynb")
    assert proc.returncode == 0, proc.stdout[-3000:]
    stored = (REGRESSION / "explore_demo.ipynb").read_text()
    assert '<div class=\\"s3c-public\\">' in stored  # the public statement, highlighted
    assert "&lt;img src=x onerror=alert(1)&gt;" in stored and "<img src=x" not in stored
    # if the demo fleet's numbers drift from the stored copy, the regression test fails
    copy = tmp_path / "explore_demo.ipynb"
    nb = nbformat.read(copy, as_version=4)
    changed = 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if "138 buckets" in output.get("text", ""):
                output["text"] = output["text"].replace("138 buckets", "137 buckets")
                changed += 1
    assert changed == 1
    nbformat.write(nb, copy)
    drifted = _nbval(tmp_path, "explore_demo.ipynb")
    assert drifted.returncode != 0
    assert "137 buckets" in drifted.stdout


def test_the_notebooks_default_output_dir_is_the_projects(tmp_path: Path, monkeypatch) -> None:
    """In JupyterLab the kernel runs in notebooks/: the run folder must land in the project's
    output/, not in notebooks/output/. A value given keeps its meaning (cron users unchanged)."""
    (tmp_path / "output").mkdir()
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    assert runner.notebook_params({"output_dir": None}).output_dir == str(tmp_path / "output")
    assert runner.notebook_params({"output_dir": "output"}).output_dir == "output"


def test_missing_credentials_in_the_notebook_are_one_line(monkeypatch) -> None:
    from botocore.exceptions import NoCredentialsError

    class NoCredentials:
        def discover(self):
            raise NoCredentialsError()

    with pytest.raises(runner.NotebookStop) as caught:
        runner.discover(NoCredentials())
    lines = caught.value._render_traceback_()
    assert len(lines) == 1 and "aws_profile" in lines[0] and "demo = True" in lines[0]


def test_the_report_notebook_ships_in_the_package() -> None:
    """`run` and `demo` read the packaged notebook; in a checkout it is the repository's."""
    assert runner.REPO_NOTEBOOK.read_bytes() == NOTEBOOK.read_bytes()
    assert "report_notebook/*.ipynb" in (ROOT / "pyproject.toml").read_text()


def test_demo_without_the_demo_extra_is_one_line(monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "moto", None)  # as if `pip install s3compliance` alone
    assert main(["demo"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 's3compliance[demo]'" in err


def test_a_steps_outcome_is_its_table_or_its_sentence(capsys) -> None:
    import pandas as pd

    runner.show_step("Tagging is off (apply_tags: false): the scan made no write.", "Tagging")
    assert capsys.readouterr().out.startswith("Tagging is off")
    runner.show_step(pd.DataFrame({"bucket": ["demo-a-01"]}), "Tagging")
    assert "demo-a-01" in capsys.readouterr().out  # outside a kernel: a text preview


def test_a_plan_past_the_row_limit_is_cut_after_which_it_is_made_readable(capsys) -> None:
    """A plan is cut first (by bucket), then made readable: only the shown rows are
    converted, and the caption says the program holds every row."""
    import pandas as pd
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    from s3compliance.params import Params

    runner.show_plan("Remediation is off (remediate: []).", "Remediation plan", Params())
    assert capsys.readouterr().out.startswith("Remediation is off")
    plan = pd.DataFrame({"bucket": [f"b-{n}" for n in range(5)], "action": ["import"] * 5})
    converted: list[int] = []

    def readable(shown: pd.DataFrame) -> pd.DataFrame:
        converted.append(len(shown))
        return shown.assign(action=shown["action"].str.upper())

    InteractiveShell.instance()
    try:
        with capture_output() as captured:
            runner.show_plan(plan, "Pulumi import plan", Params(report_max_rows=2), readable)
    finally:
        InteractiveShell.clear_instance()
    html = "".join(o.data.get("text/html", "") for o in captured.outputs)
    assert converted == [2]
    assert (
        "Pulumi import plan (the first 2 of 5 rows, by bucket; 3 left out: every row is in "
        "the run folder's pulumi/ program)" in html
    )
    assert "IMPORT" in html and "b-1" in html and "b-2" not in html


def test_the_export_cell_names_the_published_folder(tmp_path: Path) -> None:
    staging = tmp_path / ".r.abc.partial"
    assert runner.published_folder(staging, str(tmp_path / "r")) == tmp_path / "r"
    assert runner.published_folder(tmp_path / "r") == tmp_path / "r"
