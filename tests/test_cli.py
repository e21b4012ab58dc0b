"""The `vidgate` command through typer's runner: keys and local generation."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from support.media import make_image, probe
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


@pytest.mark.parametrize("ellipsis", ["…", "...", ""])
def test_keys_revoke_takes_the_prefix_as_keys_list_shows_it(cli_env: Path, ellipsis: str) -> None:
    key = run("keys", "create", "--name", "ci")[1].strip()
    shown = run("keys", "list")[1].split()[1]
    assert shown == key[:10] + "…"
    code, out, err = run("keys", "revoke", shown.removesuffix("…") + ellipsis)
    assert (code, out.strip()) == (0, "revoked"), err


def test_keys_revoke_takes_the_start_of_a_prefix_if_only_one_active_key_has_it(cli_env: Path) -> None:
    first = run("keys", "create", "--name", "a")[1].strip()
    run("keys", "create", "--name", "b")
    code, out, err = run("keys", "revoke", "vg_")
    assert code == 1 and out == ""
    assert err == (
        "several active keys match 'vg_': give more of the prefix, or the key id (see `vidgate keys list`)\n"
    )
    assert "revoked" not in run("keys", "list")[1], "an ambiguous prefix revokes nothing"
    code, out, err = run("keys", "revoke", first[:8])
    assert (code, out.strip()) == (0, "revoked"), err
    code, _, err = run("keys", "revoke", "vg_unknown…")
    assert code == 1 and err == "no active key 'vg_unknown'\n"


@pytest.mark.parametrize(
    "option",
    [["--name", ""], ["--name", "  "], ["--name", "ci", "--tenant", ""], ["--name", "ci", "--tenant", "\t"]],
)
def test_keys_create_refuses_an_empty_name_or_tenant(cli_env: Path, option: list[str]) -> None:
    code, out, err = run("keys", "create", *option)
    empty = option[-2]
    assert (code, out, err) == (2, "", f"error: {empty} must not be empty\n")
    assert run("keys", "list")[1] == "", "no key is created"


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
    nine = [str(image)] * 9  # the API's limit, VIDGATE_MAX_IMAGES (8), holds here too
    code, _, err = run("generate", *nine, "--prompt", "x", "-o", str(tmp_path / "x.mp4"))
    assert (code, err) == (2, "error: INVALID_REQUEST_BODY: Field 'images': at most 8 images per task.\n")
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
    assert store.keys.authenticate(secret) is not None
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


def _every_command_that_reads_settings(image: Path, out: Path) -> list[list[str]]:
    return [
        ["serve"],
        ["worker"],
        ["keys", "create", "--name", "ci"],
        ["keys", "list"],
        ["keys", "revoke", "vg_x"],
        ["webhook-secret"],
        ["generate", str(image), "--prompt", "x", "--duration", "1", "-o", str(out)],
    ]


def test_a_bad_setting_stops_every_command_with_one_line_per_value(
    cli_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    image = tmp_path / "photo.png"
    image.write_bytes(make_image())
    monkeypatch.setenv("VIDGATE_PORT", "abc")
    monkeypatch.setenv("VIDGATE_DEFAULT_VOICE", "nobody")
    for command in _every_command_that_reads_settings(image, tmp_path / "x.mp4"):
        code, out, err = run(*command)
        assert (code, out) == (2, ""), command
        assert err.splitlines() == [
            "error: VIDGATE_PORT: Input should be a valid integer, unable to parse string as an integer"
            " (given 'abc')",
            "error: VIDGATE_DEFAULT_VOICE: must be a catalogue voice id (GET /v3/voices),"
            " e.g. 'English_Warm_Woman' (given 'nobody')",
        ], command
    assert not (tmp_path / "x.mp4").exists() and not cli_env.exists(), "nothing was started or written"


def test_a_bad_serve_option_is_named_as_the_option(cli_env: Path) -> None:
    code, _, err = run("serve", "--workers", "99")
    assert (code, err) == (2, "error: --workers: Input should be less than or equal to 64 (given 99)\n")


def test_a_bad_secret_setting_is_named_but_not_echoed(cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIDGATE_WEBHOOK_SECRET", "whsec_leaked!")
    code, _, err = run("webhook-secret")
    assert code == 2 and err.startswith("error: VIDGATE_WEBHOOK_SECRET: String should match pattern")
    assert "leaked" not in err and err.endswith("(not shown, it is a secret)\n")


def test_settings_that_conflict_stop_the_command_with_the_reason(
    cli_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIDGATE_STORAGE_DIR", str(tmp_path / "objects"))
    monkeypatch.setenv("VIDGATE_STORAGE_URL", "s3://a-bucket")
    code, _, err = run("keys", "list")
    assert (code, err) == (
        2,
        "error: settings: set storage_dir (a folder) or storage_url (an S3 bucket), not both\n",
    )


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--resolution", "4k"], "Field 'resolution': Input should be '540p', '720p' or '1080p'."),
        (["--seed", "-1"], "Field 'seed': Input should be greater than or equal to 0."),
        (["--prompt", ""], "Field 'prompt': String should have at least 1 character."),
        (["--voice-id", ""], "Field 'voice_id': must be 1..256 characters."),
    ],
)
def test_generate_refuses_a_bad_request_as_the_server_would(
    cli_env: Path, tmp_path: Path, option: list[str], message: str
) -> None:
    image = tmp_path / "photo.png"
    image.write_bytes(make_image())
    out = tmp_path / "x.mp4"
    code, _, err = run("generate", str(image), "--prompt", "x", *option, "-o", str(out))
    assert (code, err) == (2, f"error: INVALID_REQUEST_BODY: {message}\n")
    assert not out.exists()


@pytest.mark.parametrize(
    "command", [[], ["serve"], ["worker"], ["keys"], ["keys", "create"], ["keys", "revoke"], ["generate"]]
)
def test_help_shows_flags_as_flags(command: list[str]) -> None:
    code, out, _ = run(*command, "--help")
    assert code == 0 and "<bool>" not in out
    assert "  --help " in out and "--help <" not in out


def test_generate_help_shows_its_flags_without_a_value() -> None:
    out = run("generate", "--help")[1]
    for flag in ("--bgm", "--audio", "--watermark"):
        assert f"  {flag}  " in out, flag


def test_a_serve_option_overrides_a_bad_variable(cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    served: dict[str, object] = {}
    monkeypatch.setattr(uvicorn, "run", lambda _app, **options: served.update(options))
    monkeypatch.setenv("VIDGATE_PORT", "abc")
    code, _, err = run("serve", "--port", "8123", "--workers", "0")
    assert code == 0, err
    assert served["port"] == 8123


@pytest.mark.parametrize(
    ("option", "variable", "message"),
    [
        (["--port", "99999"], None, "--port: Input should be less than or equal to 65535 (given 99999)"),
        (["--port", "-1"], None, "--port: Input should be greater than or equal to 1 (given -1)"),
        (["--port", "0"], None, "--port: Input should be greater than or equal to 1 (given 0)"),
        ([], "99999", "VIDGATE_PORT: Input should be less than or equal to 65535 (given '99999')"),
        ([], "-1", "VIDGATE_PORT: Input should be greater than or equal to 1 (given '-1')"),
    ],
)
def test_a_port_out_of_range_stops_serve_before_it_listens(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch, option: list[str], variable: str | None, message: str
) -> None:
    import uvicorn

    served: list[object] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **options: served.append(options))
    if variable is not None:
        monkeypatch.setenv("VIDGATE_PORT", variable)
    code, out, err = run("serve", *option, "--workers", "0")
    assert (code, out, err) == (2, "", f"error: {message}\n")
    assert served == [] and not cli_env.exists(), "nothing was started or written"


@pytest.mark.parametrize("port", ["1", "65535"])
def test_the_ends_of_the_port_range_are_served(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch, port: str
) -> None:
    import uvicorn

    served: dict[str, object] = {}
    monkeypatch.setattr(uvicorn, "run", lambda _app, **options: served.update(options))
    code, _, err = run("serve", "--port", port, "--workers", "0")
    assert (code, served.get("port")) == (0, int(port)), err


def test_an_engine_that_cannot_run_stops_serve_and_worker_at_start(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIDGATE_ENGINES", "motion,vidu")
    monkeypatch.delenv("VIDGATE_VIDU_API_KEY", raising=False)
    for command in (["worker"], ["worker", "--engines", "vidu"], ["serve", "--workers", "0"]):
        code, _out, err = run(*command)
        assert code == 2 and err.count("\n") == 1 and "VIDGATE_VIDU_API_KEY is required" in err, command
    monkeypatch.setenv("VIDGATE_ENGINES", "motion,nonesuch")
    code, _out, err = run("worker")
    assert code == 2 and "unknown engine 'nonesuch'" in err and "known: motion, vidu, diffusers" in err
    monkeypatch.setenv("VIDGATE_ENGINES", "motion")
    code, _out, err = run("worker", "--engines", "vidu")
    assert code == 2 and "worker_engines vidu not among engines (motion)" in err


def test_keys_can_be_pinned_to_an_enabled_engine(cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIDGATE_ENGINES", "motion,vidu")
    code, _key, _ = run("keys", "create", "--name", "gateway", "--engine", "vidu")
    assert code == 0 and "engine=vidu" in run("keys", "list")[1]
    code, _out, err = run("keys", "create", "--name", "gpu", "--engine", "diffusers")
    assert code == 2 and "--engine 'diffusers' is not enabled (motion, vidu)" in err
