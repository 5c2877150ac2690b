"""Item 15: the installed RestrictedPython is a release without the try/except* bypass (CVE-2025-22153),
and pyproject.toml does not admit an affected one."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from app.engine.sandbox import Sandbox

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def _requirement(name: str) -> Requirement:
    deps = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    [found] = [Requirement(d) for d in deps if re.match(rf"{name}\b", d, re.I)]
    return found


@pytest.mark.parametrize("affected", ["6.0", "7.0", "7.4"])
def test_pyproject_refuses_restrictedpython_with_the_bypass(affected):
    assert not _requirement("RestrictedPython").specifier.contains(affected)


def test_installed_restrictedpython_is_fixed():
    assert Version(version("RestrictedPython")) >= Version("8.0")


def test_try_star_is_refused_at_compile_time():
    with pytest.raises(SyntaxError, match="TryStar"):
        Sandbox().execute("try:\n    x = 1\nexcept* ValueError:\n    pass", {})
