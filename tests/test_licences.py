"""docs/licences.md matches the installed packages' metadata, and the generator reads it correctly."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).parents[1]


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("licences", ROOT / "benchmarks" / "licences.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


licences = load_generator()


def test_the_committed_tables_are_what_the_installed_packages_say() -> None:
    committed = licences.DOC.read_text()
    assert licences.document_with(licences.render(), committed) == committed, (
        "docs/licences.md is out of date: run `make licences`"
    )


def test_every_runtime_requirement_is_listed_and_no_dev_tool() -> None:
    doc = licences.DOC.read_text()
    for package in ("fastapi", "av", "espeakng-loader", "pydantic-core", "psycopg-binary", "botocore"):
        assert f"| `{package}` |" in doc, package
    for tool in ("pytest", "ruff", "moto", "mypy"):
        assert f"| `{tool}` |" not in doc, tool
    assert "**eSpeak NG, GPL-3.0-or-later**" in doc and "VIDGATE_SPEECH=false" in doc


def fake_distribution(site: Path, name: str, *headers: str) -> None:
    info = site / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        "\n".join(["Metadata-Version: 2.1", f"Name: {name}", "Version: 1.0", *headers])
    )


def test_the_licence_comes_from_the_expression_then_a_short_field_then_classifiers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_distribution(tmp_path, "by-expression", "License-Expression: MIT OR Apache-2.0", "License: ignored")
    fake_distribution(tmp_path, "by-field", "License: BSD-3-Clause")
    full_text = "License: Copyright (c) someone\n        all rights reserved and a long text follows"
    fake_distribution(
        tmp_path, "by-classifier", full_text, "Classifier: License :: OSI Approved :: ISC License"
    )
    fake_distribution(tmp_path, "by-nothing")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert licences.licence_of("by-expression") == ("MIT OR Apache-2.0", "License-Expression")
    assert licences.licence_of("by-field") == ("BSD-3-Clause", "License")
    assert licences.licence_of("by-classifier") == ("ISC License", "classifiers")
    assert licences.licence_of("by-nothing") == ("not stated", "-")


def test_a_requirement_not_installed_stops_the_generator_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_distribution(
        tmp_path,
        "needs-missing",
        "Requires-Dist: no-such-package-anywhere>=1",
        'Requires-Dist: also-missing; extra == "other"',  # another extra's: not followed
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(
        SystemExit, match=r"no-such-package-anywhere \(required by needs-missing\) is not installed"
    ):
        licences.closure("needs-missing", frozenset())
