"""What the vidu engine states about itself, checked without loading it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from vidgate.engines import SPECS, spec
from vidgate.errors import InvalidRequestBody
from vidgate.settings import Settings
from vidgate.tasks.model import TaskParams


def settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(data_dir=tmp_path, **values, _env_file=None)  # type: ignore[arg-type]


def params(**values: object) -> TaskParams:
    base: dict[str, object] = dict(images=["sha256:0"], prompt="p", duration=5, resolution="720p",
                                   movement_amplitude="auto", seed=1)  # fmt: skip
    return TaskParams(**(base | values))  # type: ignore[arg-type]


def test_vidu_is_registered_with_its_limits(tmp_path: Path) -> None:
    limits = SPECS["vidu"].limits(settings(tmp_path))
    assert limits.durations == tuple(range(1, 11)) and limits.resolutions == ("540p", "720p", "1080p")
    assert (limits.min_images, limits.max_images) == (1, 7)
    assert limits.renders_itself == {"bgm", "audio", "watermark"}
    assert "viduq2-pro" in limits.notes


def test_limits_follow_the_model(tmp_path: Path) -> None:
    q1 = spec("vidu").limits(settings(tmp_path, vidu_model="viduq1"))
    assert q1.durations == (5,) and q1.resolutions == ("1080p",)
    unknown = spec("vidu").limits(settings(tmp_path, vidu_model="viduq9-future"))
    assert unknown.durations == tuple(range(1, 11)) and "no limits for" in unknown.notes


def test_a_missing_key_names_the_variable(tmp_path: Path) -> None:
    check = SPECS["vidu"].check_settings
    assert check is not None
    with pytest.raises(ValueError, match="VIDGATE_VIDU_API_KEY"):
        check(settings(tmp_path))
    with pytest.raises(ValueError, match="VIDGATE_VIDU_API_KEY"):
        check(settings(tmp_path, vidu_api_key="   "))
    check(settings(tmp_path, vidu_api_key="k"))


def test_audio_with_off_peak_is_refused_in_the_providers_terms(tmp_path: Path) -> None:
    check = SPECS["vidu"].check_request
    assert check is not None
    with pytest.raises(InvalidRequestBody) as refused:
        check(params(audio=True, off_peak=True), settings(tmp_path))
    assert refused.value.status == 400 and refused.value.metadata == {"field": "off_peak"}
    assert "off-peak" in refused.value.message
    check(params(audio=True), settings(tmp_path))
    check(params(off_peak=True, bgm=True), settings(tmp_path))


def test_the_settings_refuse_a_bad_base_url_or_model(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="vidu_base_url"):
        settings(tmp_path, vidu_base_url="ftp://api.vidu.com")
    with pytest.raises(ValueError, match="vidu_model"):
        settings(tmp_path, vidu_model="a model")


def test_the_key_is_secret(tmp_path: Path) -> None:
    configured = settings(tmp_path, vidu_api_key="sk-very-secret")
    assert "sk-very-secret" not in repr(configured) and "sk-very-secret" not in str(configured)
    assert configured.vidu_api_key.get_secret_value() == "sk-very-secret"


def test_reading_the_limits_does_not_load_the_engine(tmp_path: Path) -> None:
    """The API process reads the limits; the engine (its HTTP client, downloads) stays in workers."""
    code = (
        "import sys; from vidgate.engines import SPECS; from vidgate.settings import Settings; "
        "SPECS['vidu'].limits(Settings(_env_file=None)); "
        "print(sorted(m for m in sys.modules if m.startswith('vidgate.engines.vidu')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    assert out.stdout.strip() == "['vidgate.engines.vidu', 'vidgate.engines.vidu.limits']"
