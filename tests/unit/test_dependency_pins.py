"""The dependency ranges in pyproject.toml are the tested ones: what this suite runs with lies
inside them, and each has an upper bound."""

from __future__ import annotations

import tomllib
from importlib.metadata import version

import pytest
from packaging.requirements import Requirement

from tests.conftest import ROOT

PINNED = ("textual", "rich", "capstone")


@pytest.mark.parametrize("name", PINNED)
def test_installed_version_is_inside_the_pinned_range(name: str) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = {Requirement(r).name: Requirement(r) for r in project["dependencies"]}
    spec = reqs[name].specifier
    assert any(s.operator == "<" for s in spec), f"{name} has no upper bound: {spec}"
    assert version(name) in spec, f"{name} {version(name)} is outside {spec}"
