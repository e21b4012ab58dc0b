"""Engines by name. Each engine is one module behind the `Engine` protocol in `base.py`."""

from __future__ import annotations

from vidgate.engines.base import Engine

ENGINE_NAMES = ("motion",)


def get_engine(name: str) -> Engine:
    if name == "motion":
        from vidgate.engines.motion import MotionEngine

        return MotionEngine()
    raise ValueError(f"unknown engine {name!r}; known: {', '.join(ENGINE_NAMES)}")
