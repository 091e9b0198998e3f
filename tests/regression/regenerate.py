"""Re-create the stored regression notebook that nbval compares against.

    .venv/bin/python tests/regression/regenerate.py

Executes notebooks/compliance_report.ipynb on the embedded demo account with fixed parameters
(in a temporary folder, so nothing is written into the repository but the notebook itself), after
three past runs of the demo account's history in that folder. Run it
when the notebook or the demo fleet changes on purpose, and review the diff of its outputs.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import nbformat
import papermill

HERE = Path(__file__).resolve().parent
NOTEBOOK = HERE.parent.parent / "notebooks" / "compliance_report.ipynb"
STORED = HERE / "compliance_report_demo.ipynb"
EXPLORE = HERE.parent.parent / "notebooks" / "explore.ipynb"
EXPLORE_STORED = HERE / "explore_demo.ipynb"
PARAMETERS = {
    "demo": True,
    "run_id": "regression",
    "run_date": "2026-01-01",
    "output_dir": "output",
    "max_workers": 4,
    "show_progress": False,
    "apply_tags": True,
}


HISTORY_DAYS = 4  # the report's day and three past days: every kind of change, a short trend


def seed_history(workdir: Path) -> list[Path]:
    """The demo account's past runs in ``<workdir>/output`` (``s3compliance demo --history 4``
    before the report's run date), so the stored notebook shows "Since the last run" and the
    trend (tests/test_notebooks.py seeds the same before nbval re-executes it)."""
    from datetime import date

    from s3compliance.testing.demo import demo_params
    from s3compliance.testing.history_demo import write_demo_history

    params = demo_params(output_dir=str(workdir / "output"), max_workers=4)
    end = date.fromisoformat(PARAMETERS["run_date"])
    return write_demo_history(params, HISTORY_DAYS, end, progress=False)


def demo_run_folder(workdir: Path) -> Path:
    """The run folder explore.ipynb is regressed on: the demo account, mission profile, written
    by the library as ``<workdir>/output/regression`` (tests/test_notebooks.py makes the same)."""
    from s3compliance.outputs.report import write_report
    from s3compliance.testing.demo import demo_params, run_demo

    result = run_demo(demo_params(max_workers=4), progress=False)
    return write_report(
        result,
        output_dir=workdir / "output",
        run_id="regression",
        generated_at="2026-01-01T00:00:00Z",
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as workdir:
        seed_history(Path(workdir))
        papermill.execute_notebook(
            str(NOTEBOOK),
            str(STORED),
            parameters=PARAMETERS,
            kernel_name="python3",
            progress_bar=False,
            cwd=workdir,
        )
    print(f"wrote {STORED}")
    with tempfile.TemporaryDirectory() as workdir:
        demo_run_folder(Path(workdir))
        papermill.execute_notebook(
            str(EXPLORE),
            str(EXPLORE_STORED),
            parameters={"run": "output/regression", "bucket": "demo-public-referer-markup-01"},
            kernel_name="python3",
            progress_bar=False,
            cwd=workdir,
        )
    # The widgets' Output areas: under papermill their displays go to the widget state, under
    # nbval (no frontend) to the cell, so that one cell is executed but its output not compared.
    stored = nbformat.read(EXPLORE_STORED, as_version=4)
    for cell in stored.cells:
        if cell.source.strip() == "explore.explorer(data)":
            cell.metadata.setdefault("tags", []).append("nbval-ignore-output")
    nbformat.write(stored, EXPLORE_STORED)
    print(f"wrote {EXPLORE_STORED}")


if __name__ == "__main__":
    main()
