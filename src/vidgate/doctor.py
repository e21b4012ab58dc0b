"""`vidgate doctor`: what is wrong with this host's install, one line per check.

Every check runs whatever the others found (a dead database does not hide a missing codec), and
each says what to do. Nothing here changes state beyond a probe object written to storage and
deleted again: the database is only read (its revision, its clock).
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path

from vidgate.settings import Settings

# Which codecs a render needs: the encoder's own video and audio codecs.
VIDEO_CODEC, AUDIO_CODEC = "libx264", "aac"
# A host whose clock is this far from the database's is worth a look; past a third of the lease
# (the heartbeat interval) workers on different hosts may take each other's leases.
CLOCK_WARN_S = 1.0
DATABASE_CONNECT_TIMEOUT_S = 5


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Finding:
    check: str
    status: Status
    detail: str  # what was found and, unless ok, what to do

    def line(self) -> str:
        return f"{self.status.value:<4}  {self.check:<13} {self.detail}"

    def as_json(self) -> dict[str, str]:
        return {**asdict(self), "status": self.status.value}


def check_codecs(settings: Settings) -> Finding:
    """Encode a tiny clip with sound through the encoder renders use, and read it back."""
    import av
    import numpy as np

    from vidgate.media.encode import AUDIO_SAMPLE_RATE, VideoEncoder

    name = "codecs"
    fps, frames = 24, 4
    try:
        with tempfile.TemporaryDirectory(prefix="vidgate-doctor-") as folder:
            path = Path(folder) / "probe.mp4"
            silence = np.zeros((AUDIO_SAMPLE_RATE * frames // fps, 2), np.float32)
            with VideoEncoder(path, 64, 64, fps, threads=1, quality="fast", audio=silence) as encoder:
                for shade in range(frames):
                    encoder.write(np.full((64, 64, 3), 60 * shade, np.uint8))
            with av.open(str(path)) as container:
                found = {stream.codec_context.name for stream in container.streams}
    except Exception as exc:  # an encoder missing from this PyAV build shows up as any of several errors
        return Finding(name, Status.FAIL, f"encoding a test clip failed ({exc}); reinstall PyAV (`av`)")
    missing = {"h264", AUDIO_CODEC} - found
    if missing:
        return Finding(name, Status.FAIL, f"the test clip lacks {sorted(missing)}; reinstall PyAV (`av`)")
    return Finding(name, Status.OK, f"{VIDEO_CODEC} and {AUDIO_CODEC} encode a test clip")


def check_database(settings: Settings) -> Finding:
    """Reachable, and at the revision of this vidgate's migrations."""
    from vidgate.store import inspect

    name, url = "database", settings.resolved_database_url()
    if inspect.not_created_yet(url):
        return Finding(name, Status.OK, "no SQLite file yet: the first `vidgate serve` creates it")
    try:
        found = inspect.revisions(url)
    except ImportError as exc:  # the driver: PostgreSQL's comes with an extra
        return Finding(
            name, Status.FAIL, f"no database driver ({exc}); for PostgreSQL: pip install 'vidgate[postgres]'"
        )
    except Exception as exc:
        return Finding(
            name, Status.FAIL, f"cannot reach the database ({_first_line(exc)}); check VIDGATE_DATABASE_URL"
        )
    if found.current == found.head:
        return Finding(name, Status.OK, f"reachable, migrations current ({found.head})")
    if found.newer_than_code:
        return Finding(
            name,
            Status.FAIL,
            f"the database is at revision {found.current}, newer than this vidgate knows (head "
            f"{found.head}): upgrade vidgate on this host",
        )
    return Finding(
        name,
        Status.WARN,
        f"migrations pending (database at {found.current or 'none'}, code at {found.head}): the next "
        "`vidgate serve` or `vidgate worker` applies them; restart processes still running older code",
    )


def check_clock(settings: Settings) -> Finding:
    """This host's clock against the database's: leases are written with each host's own clock."""
    from vidgate.store import inspect

    name, url = "clock", settings.resolved_database_url()
    if inspect.not_created_yet(url):
        return Finding(name, Status.OK, "SQLite runs on this host's clock")
    try:
        skew = inspect.clock_skew_s(url)
    except Exception as exc:
        return Finding(name, Status.FAIL, f"cannot read the database's clock ({_first_line(exc)})")
    if skew is None:
        return Finding(name, Status.OK, "SQLite runs on this host's clock")
    described = f"{abs(skew):.2f} s {'behind' if skew > 0 else 'ahead of'} the database"
    if abs(skew) >= settings.lease_seconds / 3:
        return Finding(
            name,
            Status.FAIL,
            f"this host is {described}, more than the heartbeat interval ({settings.lease_seconds / 3:g} s):"
            " leases break; run NTP (chrony, systemd-timesyncd) on every host",
        )
    if abs(skew) >= CLOCK_WARN_S:
        return Finding(name, Status.WARN, f"this host is {described}; run NTP on every host")
    return Finding(name, Status.OK, f"within {abs(skew):.2f} s of the database")


def check_storage(settings: Settings) -> Finding:
    """Write, read back and delete a probe object."""
    from vidgate.storage import open_store

    name = "storage"
    where = settings.storage_url or str(settings.resolved_storage_dir())
    key = f"doctor/probe-{uuid.uuid4().hex}"
    payload = uuid.uuid4().bytes
    try:
        store = open_store(settings)
        store.put_bytes(key, payload)
        try:
            read_back = store.get_bytes(key)
        finally:
            store.delete(key)
        left_behind = store.exists(key)
    except Exception as exc:
        return Finding(
            name,
            Status.FAIL,
            f"{where}: {_first_line(exc)}; check VIDGATE_STORAGE_URL / VIDGATE_STORAGE_DIR and permissions",
        )
    if read_back != payload:
        return Finding(name, Status.FAIL, f"{where}: an object read back differs from what was written")
    if left_behind:
        return Finding(name, Status.WARN, f"{where}: a deleted object is still there; check delete rights")
    return Finding(name, Status.OK, f"{where}: write, read and delete work")


def check_engines(settings: Settings) -> list[Finding]:
    """Each enabled engine known, its settings accepted, its limits stated, and its probe passed (the
    vidu key accepted by one cheap call, CUDA visible for diffusers), without loading it: loading a
    GPU model is minutes of work a health check must not do."""
    from vidgate.engines import spec

    findings = []
    for engine_name in settings.enabled_engines():
        name = f"engine {engine_name}"
        try:
            engine_spec = spec(engine_name)
            if engine_spec.check_settings is not None:
                engine_spec.check_settings(settings)
            engine_spec.limits(settings)
            fine, words = (
                engine_spec.probe(settings) if engine_spec.probe else (True, engine_spec.description)
            )
        except Exception as exc:  # ValueError is a refusal; anything else, a fault worth naming too
            reason = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
            findings.append(Finding(name, Status.FAIL, reason))
            continue
        findings.append(Finding(name, Status.OK if fine else Status.WARN, words))
    return findings


# Run in a child process: eSpeak NG ends its whole process (exit 1) on voice data it cannot read.
SPEECH_PROBE = """
import sys
from vidgate.media.audio.speech import synthesize
from vidgate.media.audio.voices import BY_ID
print(len(synthesize("hello", BY_ID[sys.argv[1]])))
"""
SPEECH_PROBE_TIMEOUT_S = 60


def check_speech(settings: Settings) -> Finding:
    """eSpeak NG's library and voice data load, and the default voice speaks a word."""
    import subprocess
    import sys

    name = "speech"
    if not settings.speech:
        return Finding(name, Status.OK, "off (VIDGATE_SPEECH=false): quoted text with audio is refused")
    remedy = "reinstall espeakng-loader, or set VIDGATE_SPEECH=false"
    try:
        probe = subprocess.run(
            [sys.executable, "-c", SPEECH_PROBE, settings.default_voice],
            capture_output=True,
            text=True,
            timeout=SPEECH_PROBE_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        return Finding(name, Status.FAIL, f"eSpeak NG did not answer in {SPEECH_PROBE_TIMEOUT_S} s; {remedy}")
    if probe.returncode != 0:
        said = (probe.stderr.strip().splitlines() or [f"exit code {probe.returncode}"])[-1]
        return Finding(name, Status.FAIL, f"eSpeak NG cannot speak ({said}); {remedy}")
    if int(probe.stdout.strip() or 0) == 0:
        return Finding(name, Status.FAIL, f"eSpeak NG spoke silence; {remedy}")
    return Finding(name, Status.OK, f"eSpeak NG speaks with voice {settings.default_voice}")


def check_signing_secret(settings: Settings) -> Finding:
    """A generated secret is kept in the data folder, which API processes on other hosts do not share:
    each would sign links the others refuse."""
    from vidgate.store import inspect

    name = "signing"
    if settings.signing_secret:
        return Finding(name, Status.OK, "VIDGATE_SIGNING_SECRET is set")
    if not inspect.is_shared(settings.resolved_database_url()):
        return Finding(name, Status.OK, "generated and kept in the data folder (one host)")
    return Finding(
        name,
        Status.WARN,
        "VIDGATE_SIGNING_SECRET is empty with a shared database: API processes on other hosts each "
        "generate their own and refuse each other's video links; set the same secret on every one",
    )


CHECKS: tuple[Callable[[Settings], Finding | list[Finding]], ...] = (
    check_codecs,
    check_database,
    check_clock,
    check_storage,
    check_engines,
    check_speech,
    check_signing_secret,
)


def run_checks(settings: Settings) -> list[Finding]:
    findings: list[Finding] = []
    for check in CHECKS:
        found = check(settings)
        findings.extend(found if isinstance(found, list) else [found])
    return findings


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def report(settings: Settings, *, as_json: bool, quiet_ok: bool) -> int:
    """Print the findings (all, or only warnings and failures) and return the exit code: 1 on any fail."""
    import json

    import typer

    findings = run_checks(settings)
    failed = any(finding.status is Status.FAIL for finding in findings)
    if as_json:
        typer.echo(json.dumps({"ok": not failed, "checks": [f.as_json() for f in findings]}, indent=2))
    else:
        for finding in findings:
            if not (quiet_ok and finding.status is Status.OK):
                typer.echo(finding.line())
    return 1 if failed else 0
