"""What every generated Pulumi (Python) program folder starts with: its ``Pulumi.yaml`` and the
opening lines of its ``__main__.py`` (``org-role``, ``watch-setup``)."""

from __future__ import annotations


def pulumi_yaml(project: str, description: str) -> str:
    """A Python project that pip installs into its own ``venv``."""
    return (
        f"name: {project}\nruntime:\n  name: python\n  options:\n    toolchain: pip\n"
        f"    virtualenv: venv\ndescription: {description}\n"
    )


def program_opening(*docstring: str) -> list[str]:
    """The module docstring (``docstring`` lines) and the imports every program uses."""
    return [
        f'"""{docstring[0]}',
        *docstring[1:],
        '"""',
        "",
        "import json",
        "from pathlib import Path",
        "",
        "import pulumi",
        "import pulumi_aws as aws",
        "",
    ]
