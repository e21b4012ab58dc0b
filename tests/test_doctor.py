"""`vidgate doctor` through the command line: every check's ok, warn and fail, the exit code, --json."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text
from typer.testing import CliRunner

from support.databases import POSTGRES_URL
from support.s3 import s3_client
from vidgate import clock, doctor, engines
from vidgate.cli import app
from vidgate.settings import Settings
from vidgate.store.db import MIGRATIONS_DIR, open_engine, open_task_store

CHECKS = ["codecs", "database", "clock", "storage", "engine motion", "speech", "signing"]
NAMES = [*CHECKS, "engine vidu", "engine diffusers"]  # what a line may begin with


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    for name in ("DATABASE_URL", "STORAGE_DIR", "STORAGE_URL", "SIGNING_SECRET"):
        monkeypatch.delenv(f"VIDGATE_{name}", raising=False)
    monkeypatch.setenv("VIDGATE_DATA_DIR", str(tmp_path / "var"))
    # The speech probe is a process of its own (a second or so): only the tests about it pay for it.
    monkeypatch.setenv("VIDGATE_SPEECH", "false")
    return tmp_path / "var"


@pytest.fixture
def speech_on(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("VIDGATE_SPEECH")
    return data_dir


def run_doctor(*args: str) -> tuple[int, dict[str, tuple[str, str]], str]:
    """Exit code, {check: (status, detail)} and the raw output."""
    result = CliRunner().invoke(app, ["doctor", *args])
    findings = {}
    for line in result.stdout.splitlines():
        status, rest = line.split(maxsplit=1)
        check = next(name for name in sorted(NAMES, key=len, reverse=True) if rest.startswith(name))
        findings[check] = (status, rest.removeprefix(check).strip())
    return result.exit_code, findings, result.stdout


def migrated_to(data_dir: Path, revision: str) -> str:
    url = f"sqlite:///{data_dir / 'vidgate.db'}"
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    engine = open_engine(url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    engine.dispose()
    return url


def test_a_fresh_install_is_all_ok_and_creates_no_database(speech_on: Path) -> None:
    data_dir = speech_on
    code, findings, out = run_doctor()
    assert code == 0, out
    assert list(findings) == CHECKS, "one line per check, in order"
    assert {status for status, _ in findings.values()} == {"ok"}, out
    assert "no SQLite file yet" in findings["database"][1]
    assert "libx264 and aac" in findings["codecs"][1]
    assert findings["speech"][1] == "eSpeak NG speaks with voice English_Warm_Woman"
    assert not (data_dir / "vidgate.db").exists(), "the doctor only looks"
    assert not any((data_dir / "objects").rglob("probe-*")), "the storage probe is deleted"


def test_a_migrated_database_is_current(data_dir: Path) -> None:
    open_task_store(f"sqlite:///{data_dir / 'vidgate.db'}").engine.dispose()
    code, findings, _ = run_doctor()
    assert code == 0 and findings["database"][0] == "ok" and "migrations current" in findings["database"][1]


def test_json_has_every_check_and_the_overall_verdict(data_dir: Path) -> None:
    result = CliRunner().invoke(app, ["doctor", "--json"])
    doc = json.loads(result.stdout)
    assert result.exit_code == 0 and doc["ok"] is True
    assert [c["check"] for c in doc["checks"]] == CHECKS
    assert all(set(c) == {"check", "status", "detail"} and c["status"] == "ok" for c in doc["checks"])


def test_pending_migrations_warn_and_quiet_ok_prints_only_them(data_dir: Path) -> None:
    migrated_to(data_dir, "0003")
    code, findings, out = run_doctor("--quiet-ok")
    assert code == 0, "a warning is not a failure"
    assert list(findings) == ["database"], out
    status, detail = findings["database"]
    assert status == "warn" and "database at 0003" in detail and "the next `vidgate serve`" in detail


def test_a_database_newer_than_the_code_fails(data_dir: Path) -> None:
    url = migrated_to(data_dir, "head")
    engine = open_engine(url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    code, findings, _ = run_doctor()
    assert code == 1
    assert findings["database"][0] == "fail" and "upgrade vidgate on this host" in findings["database"][1]


def test_an_unreachable_postgresql_fails_and_asks_for_a_shared_signing_secret(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIDGATE_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    code, findings, out = run_doctor()
    assert code == 1, out
    assert findings["database"][0] == "fail" and "VIDGATE_DATABASE_URL" in findings["database"][1]
    assert findings["clock"][0] == "fail"
    assert findings["signing"][0] == "warn" and "set the same secret" in findings["signing"][1]
    assert findings["codecs"][0] == findings["storage"][0] == "ok", "one fault hides no other check"
    monkeypatch.setenv("VIDGATE_SIGNING_SECRET", "s3cret-shared-by-every-api-process")
    assert run_doctor()[1]["signing"][0] == "ok"


def test_postgresql_without_its_driver_names_the_extra(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if the postgres extra were not installed
    monkeypatch.setenv("VIDGATE_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    code, findings, _ = run_doctor()
    assert code == 1
    status, detail = findings["database"]
    assert status == "fail" and "pip install 'vidgate[postgres]'" in detail, detail


def test_storage_that_cannot_be_written_fails(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    not_a_folder = data_dir.parent / "a-file"
    not_a_folder.write_text("")
    monkeypatch.setenv("VIDGATE_STORAGE_DIR", str(not_a_folder))
    code, findings, _ = run_doctor()
    assert code == 1
    status, detail = findings["storage"]
    assert status == "fail" and str(not_a_folder) in detail and "VIDGATE_STORAGE_DIR" in detail


@pytest.mark.s3
def test_storage_on_s3_round_trips_and_a_missing_bucket_fails(
    data_dir: Path, s3_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    for field in ("storage_url", "s3_endpoint_url", "s3_region", "s3_access_key_id"):
        monkeypatch.setenv(f"VIDGATE_{field.upper()}", str(getattr(s3_settings, field)))
    monkeypatch.setenv("VIDGATE_S3_SECRET_ACCESS_KEY", s3_settings.s3_secret_access_key.get_secret_value())
    code, findings, _ = run_doctor()
    assert code == 0 and findings["storage"] == (
        "ok",
        f"{s3_settings.storage_url}: write, read and delete work",
    )
    bucket = s3_settings.storage_url.removeprefix("s3://").split("/")[0]
    assert s3_client(s3_settings.s3_endpoint_url).list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    monkeypatch.setenv("VIDGATE_STORAGE_URL", "s3://no-such-bucket-here")
    code, findings, _ = run_doctor()
    assert code == 1 and findings["storage"][0] == "fail" and "no-such-bucket-here" in findings["storage"][1]


@pytest.mark.parametrize(
    ("fault", "said"),
    [
        (ValueError("VIDGATE_MOTION_THING is required"), "VIDGATE_MOTION_THING is required"),
        (OSError("libcuda.so: cannot open"), "OSError: libcuda.so: cannot open"),
    ],
)
def test_an_engine_whose_settings_are_refused_fails_with_its_reason(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, fault: Exception, said: str
) -> None:
    def refuse(_settings: Settings) -> None:
        raise fault

    refusing = dataclasses.replace(engines.SPECS["motion"], check_settings=refuse)
    monkeypatch.setitem(engines.SPECS, "motion", refusing)
    code, findings, _ = run_doctor()
    assert code == 1
    assert findings["engine motion"] == ("fail", said)


def test_every_enabled_engine_is_checked(settings: Settings) -> None:
    several = settings.model_copy(update={"engines": ["motion", "nonesuch"]})
    found = doctor.check_engines(several)
    assert [(f.check, f.status) for f in found] == [
        ("engine motion", doctor.Status.OK),
        ("engine nonesuch", doctor.Status.FAIL),
    ]
    assert "unknown engine 'nonesuch'" in found[1].detail
    assert [f.check for f in doctor.check_engines(settings)] == ["engine motion"], "by default: one"


def test_an_encoder_that_cannot_start_fails_the_codecs(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vidgate.media import encode

    monkeypatch.setitem(encode.X264_SETTINGS, "fast", ("no-such-preset", 23))  # x264 refuses to open
    code, findings, _ = run_doctor()
    assert code == 1 and findings["codecs"][0] == "fail" and "reinstall PyAV" in findings["codecs"][1]


def test_speech_without_voice_data_fails_and_speech_off_is_ok(
    speech_on: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """eSpeak NG ends its process when the data is missing: the doctor's probe runs in its own."""
    import espeakng_loader

    data_dir = speech_on
    broken = data_dir.parent / "broken" / "espeakng_loader"  # the library, with an empty data folder
    broken.mkdir(parents=True)
    (data_dir.parent / "no-voices").mkdir()
    (broken / "__init__.py").write_text(
        f"def get_library_path():\n    return {espeakng_loader.get_library_path()!r}\n"
        f"def get_data_path():\n    return {str(data_dir.parent / 'no-voices')!r}\n"
    )
    monkeypatch.setenv("PYTHONPATH", str(broken.parent))
    code, findings, _ = run_doctor()
    assert code == 1
    status, detail = findings["speech"]
    assert status == "fail" and "phontab" in detail and "VIDGATE_SPEECH=false" in detail, detail
    monkeypatch.setenv("VIDGATE_SPEECH", "false")
    code, findings, _ = run_doctor()
    assert code == 0 and findings["speech"][0] == "ok" and findings["speech"][1].startswith("off")


@pytest.mark.postgres
def test_postgresql_clock_is_compared_with_this_hosts(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL tests need VIDGATE_TEST_POSTGRES_URL (CI sets it)")
    monkeypatch.setenv("VIDGATE_DATABASE_URL", POSTGRES_URL)
    monkeypatch.setenv("VIDGATE_LEASE_SECONDS", "30")
    assert run_doctor()[1]["clock"][0] == "ok"
    with clock.moved(3):
        status, detail = run_doctor()[1]["clock"]
    assert status == "warn" and "ahead of the database" in detail
    with clock.moved(-20):
        code, findings, _ = run_doctor()
    assert code == 1 and findings["clock"][0] == "fail" and "behind the database" in findings["clock"][1]


def test_version() -> None:
    from importlib.metadata import version

    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout == f"vidgate {version('vidgate')}\n"


def test_the_vidu_engine_is_probed_with_one_cheap_call_that_creates_nothing(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fakes.vidu_provider import API_KEY, running_fake

    with running_fake() as fake:
        monkeypatch.setenv("VIDGATE_ENGINES", "motion,vidu")
        monkeypatch.setenv("VIDGATE_VIDU_BASE_URL", fake.base_url)
        monkeypatch.setenv("VIDGATE_VIDU_API_KEY", API_KEY)
        status, detail = run_doctor()[1]["engine vidu"]
        assert status == "ok" and "accepts the key" in detail
        monkeypatch.setenv("VIDGATE_VIDU_API_KEY", "not-the-key")
        code, findings, output = run_doctor()
        assert code == 1 and findings["engine vidu"][0] == "fail" and "refused VIDGATE_VIDU_API_KEY" in output
        assert "not-the-key" not in output, "the key is never shown"
        assert fake.creates == [] and len(fake.requests) == 2
    status, detail = run_doctor()[1]["engine vidu"]
    assert status == "fail" and "unreachable" in detail


def test_the_diffusers_engine_says_whether_a_gpu_is_visible(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, wan_ti2v_folder: Path
) -> None:
    import torch

    monkeypatch.setenv("VIDGATE_ENGINES", "diffusers")
    monkeypatch.setenv("VIDGATE_DIFFUSERS_MODEL_PATH", str(wan_ti2v_folder))
    expected = "ok" if torch.cuda.is_available() else "warn"
    assert run_doctor()[1]["engine diffusers"][0] == expected
    if not torch.cuda.is_available():
        monkeypatch.setenv("VIDGATE_DIFFUSERS_DEVICE", "cuda:0")
        status, detail = run_doctor()[1]["engine diffusers"]
        assert status == "fail" and "CUDA is not visible" in detail
