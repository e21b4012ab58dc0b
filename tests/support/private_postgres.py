"""A PostgreSQL cluster of the test's own (Debian's `initdb` and `pg_ctl`, a temp folder, a free
port): a test may stop and start it, which it must never do to the shared server at 5432."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.live import free_port


@dataclass
class PrivatePostgres:
    bin_dir: Path
    data_dir: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data_dir}"
        self._pg_ctl("start", "-w", "-t", "30", "-o", options, "-l", str(self.data_dir / "server.log"))

    def stop(self) -> None:
        """A fast shutdown, as a restart or fail-over does it: sessions are cut, nothing waits for them."""
        self._pg_ctl("stop", "-w", "-t", "30", "-m", "fast")

    def _pg_ctl(self, *args: str) -> None:
        _as_postgres([str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir / "cluster"), *args])


def postgres_bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


@contextlib.contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """A fresh cluster, running; stopped and removed afterwards. Skips where PostgreSQL's server
    binaries are not installed."""
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        pytest.skip("a private PostgreSQL cluster needs initdb and pg_ctl (Debian: postgresql)")
    # Not under pytest's tmp_path: as root, the cluster runs as `postgres`, which must reach its folder.
    data_dir = Path(tempfile.mkdtemp(prefix="vidgate-pg-"))
    if os.geteuid() == 0:
        shutil.chown(data_dir, "postgres", "postgres")
    cluster = PrivatePostgres(bin_dir, data_dir, free_port())
    try:
        initdb = [str(bin_dir / "initdb"), "-D", str(data_dir / "cluster"), "-U", "postgres"]
        _as_postgres([*initdb, "-A", "trust", "-E", "UTF8", "--no-sync"])
        cluster.start()
        yield cluster
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            cluster.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def _as_postgres(command: list[str]) -> None:
    """PostgreSQL refuses to run as root: as root, run it as the `postgres` user."""
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    subprocess.run(command, check=True, capture_output=True, cwd="/")
