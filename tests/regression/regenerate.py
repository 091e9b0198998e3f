"""Re-create the stored regression notebook that nbval compares against.

    .venv/bin/python tests/regression/regenerate.py

Executes notebooks/compliance_report.ipynb on the embedded demo account with fixed parameters
(in a temporary folder, so nothing is written into the repository but the notebook itself). Run it
when the notebook or the demo fleet changes on purpose, and review the diff of its outputs.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import papermill

HERE = Path(__file__).resolve().parent
NOTEBOOK = HERE.parent.parent / "notebooks" / "compliance_report.ipynb"
STORED = HERE / "compliance_report_demo.ipynb"
PARAMETERS = {
    "demo": True,
    "run_id": "regression",
    "run_date": "2026-01-01",
    "output_dir": "output",
    "max_workers": 4,
    "show_progress": False,
    "apply_tags": True,
}


def main() -> None:
    with tempfile.TemporaryDirectory() as workdir:
        papermill.execute_notebook(
            str(NOTEBOOK),
            str(STORED),
            parameters=PARAMETERS,
            kernel_name="python3",
            progress_bar=False,
            cwd=workdir,
        )
    print(f"wrote {STORED}")


if __name__ == "__main__":
    main()
