"""The off-peak window: parsing and the time-of-day test."""

from __future__ import annotations

from datetime import time

import pytest

from vidgate.settings import Settings
from vidgate.tasks.offpeak import parse_window, window_is_open


@pytest.mark.parametrize(
    ("window", "now", "is_open"),
    [
        ("22:00-06:00", time(23, 30), True),
        ("22:00-06:00", time(5, 59), True),
        ("22:00-06:00", time(6, 0), False),
        ("22:00-06:00", time(12, 0), False),
        ("01:00-05:00", time(1, 0), True),
        ("01:00-05:00", time(5, 0), False),
        ("", time(3, 0), False),
    ],
)
def test_window_is_open(window: str, now: time, is_open: bool) -> None:
    assert window_is_open(window, now) is is_open


@pytest.mark.parametrize("bad", ["22-06", "25:00-06:00", "22:00-22:00", "22:00 to 06:00", "22:60-01:00"])
def test_malformed_windows_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_window(bad)
    with pytest.raises(ValueError, match="off_peak_window"):
        Settings(off_peak_window=bad, _env_file=None)  # type: ignore[call-arg]
