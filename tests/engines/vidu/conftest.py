"""The fake Vidu provider, one per test, and an engine pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from engines.vidu.vidu_support import vidu_settings
from fakes.vidu_provider import FakeVidu, running_fake
from vidgate.engines.vidu.engine import ViduEngine
from vidgate.settings import Settings


@pytest.fixture
def fake() -> Iterator[FakeVidu]:
    with running_fake() as served:
        yield served


@pytest.fixture
def settings(tmp_path: Path, fake: FakeVidu) -> Settings:
    return vidu_settings(tmp_path, fake)


@pytest.fixture
def engine(settings: Settings) -> Iterator[ViduEngine]:
    made = ViduEngine(settings)
    yield made
    made.close()


@pytest.fixture
def make_engine(tmp_path: Path, fake: FakeVidu) -> Iterator[Callable[..., ViduEngine]]:
    """An engine with other settings (`vidu_settings` overrides), closed after the test."""
    made: list[ViduEngine] = []

    def make(**overrides: Any) -> ViduEngine:
        made.append(ViduEngine(vidu_settings(tmp_path, fake, **overrides)))
        return made[-1]

    yield make
    for each in made:
        each.close()
