"""The `vidgate` command through typer's runner: keys and local generation."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers import make_image, probe
from vidgate.cli import app


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data_dir = tmp_path / "var"
    monkeypatch.setenv("VIDGATE_DATA_DIR", str(data_dir))
    monkeypatch.delenv("VIDGATE_DATABASE_URL", raising=False)
    return data_dir


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_keys_create_list_revoke(cli_env: Path) -> None:
    code, key, _ = run("keys", "create", "--name", "ci", "--tenant", "team-a")
    key = key.strip()
    assert code == 0 and key.startswith("vg_") and "\n" not in key
    code, listing, _ = run("keys", "list")
    assert code == 0 and "name=ci" in listing and "tenant=team-a" in listing and "active" in listing
    assert key not in listing, "keys are never shown again"
    code, out, _ = run("keys", "revoke", key[:10])
    assert code == 0 and out.strip() == "revoked"
    assert "revoked" in run("keys", "list")[1]
    code, _, err = run("keys", "revoke", key[:10])
    assert code == 1 and "no active key" in err


def test_generate_renders_locally_and_is_deterministic(cli_env: Path, tmp_path: Path) -> None:
    image = tmp_path / "photo.png"
    image.write_bytes(make_image(640, 480))
    outputs = []
    for name in ("a.mp4", "b.mp4"):
        out = tmp_path / name
        code, stdout, stderr = run(
            "generate", str(image), "--prompt", "pan right", "--duration", "1", "--resolution", "540p",
            "--seed", "3", "-o", str(out),
        )  # fmt: skip
        assert code == 0, stderr
        assert '"seed": 3' in stdout and '"camera_move"' in stdout
        outputs.append(out)
    info = probe(outputs[0])
    assert (info["width"], info["height"], info["frames"]) == (720, 540, 24)
    assert (
        hashlib.sha256(outputs[0].read_bytes()).digest() == hashlib.sha256(outputs[1].read_bytes()).digest()
    )


def test_generate_creates_the_output_folder(cli_env: Path, tmp_path: Path) -> None:
    image = tmp_path / "photo.png"
    image.write_bytes(make_image())
    out = tmp_path / "new" / "folder" / "clip.mp4"
    code, _, stderr = run(
        "generate", str(image), "--prompt", "x", "--duration", "1", "--resolution", "540p", "-o", str(out)
    )
    assert code == 0, stderr
    assert probe(out)["frames"] == 24


def test_generate_refuses_bad_input_with_a_clear_message(cli_env: Path, tmp_path: Path) -> None:
    not_image = tmp_path / "notes.png"
    not_image.write_text("hello")
    code, _, err = run("generate", str(not_image), "--prompt", "x", "-o", str(tmp_path / "x.mp4"))
    assert code == 2 and "INVALID_IMAGE_FORMAT" in err
    image = tmp_path / "photo.png"
    image.write_bytes(make_image())
    code, _, err = run(
        "generate", str(image), "--prompt", "x", "--resolution", "4k", "-o", str(tmp_path / "x.mp4")
    )
    assert code == 2 and "resolution" in err
    assert not (tmp_path / "x.mp4").exists()


def test_generate_checks_the_photo_as_given_then_renders_from_a_shrunk_copy(
    cli_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    image = tmp_path / "photo.png"
    image.write_bytes(make_image(1600, 1200))  # more than a 540p video samples: shrunk once read
    out = tmp_path / "clip.mp4"
    args = ["generate", str(image), "--prompt", "zoom in", "--duration", "1", "--resolution", "540p"]
    monkeypatch.setenv("VIDGATE_MAX_IMAGE_PIXELS", str(1600 * 1200 - 1))
    code, _, err = run(*args, "-o", str(out))
    assert code == 2 and "IMAGE_EXCEEDS_MAX_RESOLUTION" in err and not out.exists()
    monkeypatch.setenv("VIDGATE_MAX_IMAGE_PIXELS", str(1600 * 1200))
    code, _, err = run(*args, "-o", str(out))
    assert code == 0, err
    info = probe(out)
    assert (info["width"], info["height"], info["frames"]) == (720, 540, 24)


def test_keys_create_with_limits_and_defaults(cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = run(
        "keys", "create", "--name", "metered", "--rate", "60/min", "--concurrency", "4", "--daily", "500"
    )
    assert code == 0, err
    monkeypatch.setenv("VIDGATE_KEY_DEFAULT_CONCURRENCY", "2")
    assert run("keys", "create", "--name", "defaulted")[0] == 0
    assert run("keys", "create", "--name", "free", "--concurrency", "unlimited")[0] == 0
    listing = run("keys", "list")[1]
    assert "name=metered  tenant=metered  rate=60/min concurrency=4 daily=500  active" in listing
    assert "name=defaulted  tenant=defaulted  rate=unlimited concurrency=2 daily=unlimited" in listing
    assert "name=free  tenant=free  rate=unlimited concurrency=unlimited daily=unlimited" in listing


@pytest.mark.parametrize(
    "option", [["--rate", "60"], ["--rate", "5/fortnight"], ["--daily", "-1"], ["--concurrency", "x"]]
)
def test_keys_create_refuses_bad_limits(cli_env: Path, option: list[str]) -> None:
    code, out, err = run("keys", "create", "--name", "bad", *option)
    assert code == 2 and "error:" in err and out == ""
    assert "name=bad" not in run("keys", "list")[1]


def test_generate_quality_presets_trade_size_for_speed(cli_env: Path, tmp_path: Path) -> None:
    image = tmp_path / "photo.png"
    image.write_bytes(make_image(640, 360))
    sizes = {}
    for quality in ("fast", "best"):
        out = tmp_path / f"{quality}.mp4"
        code, _, stderr = run(
            "generate", str(image), "--prompt", "pan left", "--duration", "1", "--resolution", "540p",
            "--seed", "1", "--quality", quality, "-o", str(out),
        )  # fmt: skip
        assert code == 0, stderr
        sizes[quality] = out.stat().st_size
    assert sizes["best"] != sizes["fast"], "the preset reaches the encoder"
    code, _, _ = run(
        "generate", str(image), "--prompt", "x", "--quality", "ultra", "-o", str(tmp_path / "u.mp4")
    )
    assert code == 2 and not (tmp_path / "u.mp4").exists()


def test_the_dev_key_file_is_owner_only_and_works(cli_env: Path) -> None:
    from vidgate.cli import _ensure_dev_key
    from vidgate.settings import Settings
    from vidgate.store.db import migrate, open_engine
    from vidgate.store.sql import SqlTaskStore

    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    engine = open_engine(settings.resolved_database_url())
    migrate(engine)
    store = SqlTaskStore(engine)
    (cli_env).mkdir(parents=True, exist_ok=True)
    (cli_env / "dev-api-key").write_text("vg_stale\n")  # a key that no longer authenticates
    secret = _ensure_dev_key(settings, store)
    path = cli_env / "dev-api-key"
    assert path.stat().st_mode & 0o077 == 0 and path.read_text().strip() == secret
    assert store.authenticate(secret) is not None
    assert _ensure_dev_key(settings, store) == secret, "a working key is kept"
    engine.dispose()


@pytest.mark.s3
def test_a_bucket_out_of_reach_stops_serve_and_worker_with_its_reason(
    cli_env: Path, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "STORAGE_URL": "s3://no-such-bucket-here",
        "S3_ENDPOINT_URL": s3_endpoint,
        "S3_REGION": "us-east-1",
        "S3_ACCESS_KEY_ID": "test",
        "S3_SECRET_ACCESS_KEY": "test",
    }.items():
        monkeypatch.setenv(f"VIDGATE_{name}", value)
    for command in (["serve", "--workers", "0"], ["worker"]):
        code, _, err = run(*command)
        assert code == 2, err
        assert err.startswith("error: S3 bucket 'no-such-bucket-here' is not reachable"), err
        assert "Traceback" not in err
