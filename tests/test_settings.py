"""Settings: env precedence, defaults, and documentation kept in step."""

from __future__ import annotations

from pathlib import Path

import pytest

from vidgate.settings import Settings

DOCS = Path(__file__).parents[1] / "docs" / "configuration.md"


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


def test_every_setting_is_documented() -> None:
    text = DOCS.read_text()
    missing = [name for name in Settings.model_fields if f"VIDGATE_{name.upper()}" not in text]
    assert missing == [], f"document these in docs/configuration.md: {missing}"
