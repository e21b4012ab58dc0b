"""The Dockerfile and docker-compose.yml, read as the tools read them: stages, commands, services, and
every VIDGATE_* variable a real setting; `docker compose config` validates the file where it exists."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from vidgate.settings import Settings

ROOT = Path(__file__).parents[1]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text()
COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_TEXT)
SETTINGS_VARIABLES = {f"VIDGATE_{name.upper()}" for name in Settings.model_fields}
SECRETS = {
    "POSTGRES_PASSWORD": "pgpass123",
    "MINIO_ROOT_PASSWORD": "miniopass123",
    "VIDGATE_SIGNING_SECRET": "a" * 64,
    "VIDGATE_WEBHOOK_SECRET": "whsec_" + "A" * 43 + "=",
}


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", DOCKERFILE)
    lines = [
        line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]
    return [(line.split(maxsplit=1)[0].upper(), line.split(maxsplit=1)[1]) for line in lines]


def test_the_dockerfile_builds_a_wheel_and_installs_it_in_a_slim_runtime() -> None:
    instructions = dockerfile_instructions()
    stages = [args.split() for name, args in instructions if name == "FROM"]
    assert [(s[0], s[2]) for s in stages] == [("python:3.11-slim", "build"), ("python:3.11-slim", "runtime")]
    assert any(name == "RUN" and "python -m build --wheel" in args for name, args in instructions)
    assert ("COPY", "--from=build /dist/ /tmp/dist/") in instructions
    install = next(
        args for name, args in instructions if name == "RUN" and "pip install" in args and "dist" in args
    )
    assert "--only-binary :all:" in install, "no compiler in the runtime image"
    extras = re.search(r"ARG EXTRAS=(\S+)", DOCKERFILE)
    assert extras is not None
    pyproject = (ROOT / "pyproject.toml").read_text()
    for extra in extras.group(1).split(","):
        assert re.search(rf"^{extra} = \[", pyproject, re.MULTILINE), f"no extra {extra!r} in pyproject.toml"
    (cmd,) = [args for name, args in instructions if name == "CMD"]
    assert json.loads(cmd) == ["vidgate", "serve", "--workers", "0"], "exec form: signals reach vidgate"
    assert ("USER", "vidgate") in instructions, "not root"


def test_every_vidgate_variable_in_both_files_is_a_setting() -> None:
    named = set(re.findall(r"\bVIDGATE_[A-Z0-9_]+", DOCKERFILE + COMPOSE_TEXT))
    assert named and named <= SETTINGS_VARIABLES, named - SETTINGS_VARIABLES


def service_environment(name: str) -> dict[str, str]:
    return {key: str(value) for key, value in COMPOSE["services"][name]["environment"].items()}


def test_compose_runs_the_api_two_workers_postgresql_and_minio() -> None:
    services = COMPOSE["services"]
    assert set(services) == {"api", "worker", "postgres", "minio", "bucket"}
    api, worker = services["api"], services["worker"]
    assert api["command"] == ["vidgate", "serve", "--workers", "0"] and api["ports"] == ["8000:8000"]
    assert worker["command"] == ["vidgate", "worker"] and worker["deploy"]["replicas"] == 2
    assert api["image"] == worker["image"] and api["build"] == worker["build"] == "."
    for process in (api, worker):
        assert process["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert process["depends_on"]["bucket"]["condition"] == "service_completed_successfully"
    env = service_environment("worker")
    assert (
        env["VIDGATE_DATABASE_URL"].startswith("postgresql+psycopg://vidgate:")
        and "@postgres:5432/" in env["VIDGATE_DATABASE_URL"]
    )
    assert env["VIDGATE_S3_ENDPOINT_URL"] == "http://minio:9000"
    assert "mc mb --ignore-existing local/vidgate" in services["bucket"]["entrypoint"][-1]
    assert env["VIDGATE_STORAGE_URL"].startswith("s3://vidgate/")
    assert service_environment("api").items() >= env.items(), "the API shares the workers' settings"


def test_the_composed_settings_are_valid_settings() -> None:
    """What the processes in compose would start with, checked by the Settings class itself."""

    def interpolate(value: str) -> str:
        return re.sub(r"\$\{(\w+):\?[^}]*\}", lambda m: SECRETS[m.group(1)], value)

    values = {
        key.removeprefix("VIDGATE_").lower(): interpolate(value)
        for key, value in service_environment("api").items()
    }
    settings = Settings(**values, _env_file=None)  # type: ignore[arg-type]
    assert (
        settings.storage_url == "s3://vidgate/media"
        and settings.signing_secret == SECRETS["VIDGATE_SIGNING_SECRET"]
    )


def docker_compose_available() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0


@pytest.mark.skipif(
    not docker_compose_available(), reason="`docker compose` (the v2 plugin) is not installed"
)
def test_docker_compose_config_accepts_the_file(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": str(tmp_path), **SECRETS}
    result = subprocess.run(
        ["docker", "compose", "--file", ROOT / "docker-compose.yml", "config", "--format", "json"],
        capture_output=True, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    assert set(config["services"]) == {"api", "worker", "postgres", "minio", "bucket"}
    missing = subprocess.run(
        ["docker", "compose", "--file", ROOT / "docker-compose.yml", "config"],
        capture_output=True, text=True, env={"PATH": env["PATH"], "HOME": str(tmp_path)}, cwd=tmp_path,
    )  # fmt: skip
    assert missing.returncode != 0 and "set " in missing.stderr, "a missing secret is named"
