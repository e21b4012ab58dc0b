"""`vidgate gc` and `vidgate usage` through typer's runner, on the deployment's own database."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from support.media import data_uri, make_image
from vidgate import clock
from vidgate.app import build_services
from vidgate.cli import app
from vidgate.schemas import SubmitRequest
from vidgate.settings import Settings


@pytest.fixture
def deployment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A data folder with one task of key `ci` run to SUCCEED (a 1000-byte video) and one of `other`
    still queued; the key ids by name."""
    data_dir = tmp_path / "var"
    monkeypatch.setenv("VIDGATE_DATA_DIR", str(data_dir))
    monkeypatch.delenv("VIDGATE_DATABASE_URL", raising=False)
    monkeypatch.delenv("VIDGATE_RETENTION", raising=False)
    services = build_services(Settings(data_dir=data_dir, _env_file=None))  # type: ignore[call-arg]
    keys = {name: services.store.keys.create(name, "team-a")[0] for name in ("ci", "other")}
    for seed, name in enumerate(keys):
        body = {"images": [data_uri(make_image(seed=seed))], "prompt": "zoom in", "duration": 2}
        services.submit("team-a", SubmitRequest.model_validate(body), key=keys[name])
    task = services.store.claim("w", 30)
    assert task is not None
    source = tmp_path / "video.mp4"
    source.write_bytes(b"v" * 1000)
    services.objects.put_file(f"videos/{task.id}-1.mp4", source)
    assert services.store.complete(task.id, 1, f"videos/{task.id}-1.mp4", {})
    return {name: key.id for name, key in keys.items()}


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_usage_lists_tenant_key_and_engine(deployment: dict[str, str]) -> None:
    code, out, err = run("usage")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("usage ") and lines[0].endswith("(UTC days)")
    assert len(lines) == 3 and all("team-a" in line and "motion" in line for line in lines[1:])
    assert "(ci)" in out and "succeeded=1" in out and "video_s=2" in out
    code, out, _ = run("usage", "--json", "--key", deployment["other"])
    body = json.loads(out)
    (row,) = body["rows"]
    assert row["key_id"] == deployment["other"] and (row["submitted"], row["succeeded"]) == (1, 0)
    assert body["until"] == datetime.now(UTC).date().isoformat()


def test_usage_refuses_an_unknown_key_and_a_bad_date(deployment: dict[str, str]) -> None:
    code, _, err = run("usage", "--key", "vg_nope")
    assert code == 2 and "names no key" in err
    code, _, err = run("usage", "--since", "1st of May")
    assert code == 2 and "--since" in err and "YYYY-MM-DD" in err
    code, out, _ = run("usage", "--since", "2001-01-01", "--until", "2001-01-02")
    assert code == 0 and "no tasks in this window" in out


def test_gc_dry_run_then_gc(deployment: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = run("gc")
    assert code == 0 and out.strip() == "deleted 0 videos and 0 inputs, 0 bytes (retention 7d)"
    monkeypatch.setenv("VIDGATE_RETENTION", "1h")
    with clock.moved(3601):
        code, out, _ = run("gc", "--dry-run")
        assert code == 0 and "would delete 1 videos and 1 inputs" in out, out
        assert out.count("would delete videos/") == 1 and out.count("would delete inputs/") == 1
        code, out, _ = run("gc", "--json")
        report = json.loads(out)
        assert (report["videos"], report["inputs"], report["dry_run"]) == (1, 1, False)
        assert report["bytes"] > 1000, "the video's 1000 bytes and the input's"
        assert json.loads(run("gc", "--json")[1])["keys"] == [], "nothing twice"
    monkeypatch.setenv("VIDGATE_RETENTION", "0")
    code, _, err = run("gc")
    assert code == 0 and "kept" in err


def test_gc_refuses_a_bad_retention(deployment: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIDGATE_RETENTION", "a week")
    code, _, err = run("gc")
    assert code == 2 and "VIDGATE_RETENTION" in err
