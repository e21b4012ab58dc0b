"""Settings: env precedence, defaults, and documentation kept in step."""

from __future__ import annotations

from pathlib import Path

import pytest

from vidgate.settings import Settings


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VIDGATE_PORT", "9001")
    monkeypatch.setenv("VIDGATE_DATA_DIR", str(tmp_path))
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.port == 9001
    assert settings.resolved_database_url() == f"sqlite:///{tmp_path / 'vidgate.db'}"
    assert settings.resolved_storage_dir() == tmp_path / "objects"


def test_signing_secret_is_generated_once_and_shared(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path, _env_file=None).resolved_signing_secret()  # type: ignore[call-arg]
    second = Settings(data_dir=tmp_path, _env_file=None).resolved_signing_secret()  # type: ignore[call-arg]
    assert first == second and len(first) == 64
    assert (tmp_path / "signing-secret").stat().st_mode & 0o077 == 0, "readable by its owner only"


def test_invalid_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIDGATE_MAX_ATTEMPTS", "0")
    with pytest.raises(ValueError, match="max_attempts"):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_docs_configuration_md_lists_every_setting_as_the_code_describes_it() -> None:
    from vidgate.settings_doc import DOC, document_with_tables

    text = DOC.read_text()
    assert text == document_with_tables(text), "run `make configuration-doc` and review the change"
    for name, field in Settings.model_fields.items():
        assert field.description, f"{name} has no description"
        assert f"`VIDGATE_{name.upper()}`" in text, f"{name} is in no section's table"


def test_engine_lists_are_comma_separated_and_the_default_engine_is_enabled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VIDGATE_ENGINES", "motion, vidu")
    monkeypatch.setenv("VIDGATE_WORKER_ENGINES", "vidu")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.enabled_engines() == ["motion", "vidu"] and settings.engines_to_run() == ["vidu"]
    assert Settings(engines=["vidu"], _env_file=None).engine == "vidu", "one engine: the default"  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="VIDGATE_ENGINE 'motion' is not among VIDGATE_ENGINES"):
        Settings(engines=["vidu"], engine="motion", _env_file=None)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="worker_engines diffusers not among engines"):
        Settings(worker_engines=["diffusers"], _env_file=None)  # type: ignore[call-arg]
