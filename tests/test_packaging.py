"""The project's own promises: same dependencies for pip and conda, README commands, CI."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower()


def test_environment_yml_lists_the_same_dependencies_as_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip_side = set(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        pip_side |= set(extra)
    env = yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
    conda_side = {d for d in env if isinstance(d, str) and _name(d) not in {"python", "pip"}}
    conda_side |= {d for d in next(d["pip"] for d in env if isinstance(d, dict)) if d != "-e ."}
    by_name = lambda reqs: {_name(r): r.replace(" ", "") for r in reqs}  # noqa: E731
    pip_by, conda_by = by_name(pip_side), by_name(conda_side)
    assert set(pip_by) == set(conda_by)
    # the demo extra (moto[s3,sts]) is covered by the test extra's moto[s3,sts,server]
    for name, req in conda_by.items():
        versions = lambda r: re.sub(r"^[^<>=!~]*", "", r)  # noqa: E731
        assert versions(req) == versions(pip_by[name]), name


def test_readme_starts_with_the_two_commands_and_ci_runs_the_test_one() -> None:
    readme = (ROOT / "README.md").read_text()
    first_block = re.search(r"```(?:sh|bash|console)?\n(.*?)```", readme, re.S)
    assert first_block is not None
    commands = [line for line in first_block.group(1).splitlines() if line and line[0] != "#"]
    assert commands == ["make demo", "make test"]
    ci = (ROOT / ".ci" / "run").read_text()
    commands = [line for line in ci.splitlines() if line and not line.startswith(("#", "set "))]
    assert commands[-1] == "make test" and ci.count("make ") == 1
    # before it, only the system packages the tests need, installed when missing
    assert "if ! command -v chromium" in ci and "apt-get install" in ci


def test_output_folder_is_ignored_but_kept() -> None:
    assert (ROOT / "output" / ".gitkeep").exists()
    ignore = (ROOT / ".gitignore").read_text().splitlines()
    assert "output/*" in ignore and "!output/.gitkeep" in ignore
