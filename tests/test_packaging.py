"""The licence the README and pyproject declare is the file that ships in the wheel and sdist."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_the_declared_licence_ships_as_its_full_text() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "Apache-2.0"
    shipped = [path for pattern in project["license-files"] for path in ROOT.glob(pattern)]
    assert shipped == [ROOT / "LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text and "APPENDIX: How to apply the Apache License" in text
    assert "Apache-2.0" in (ROOT / "README.md").read_text()
