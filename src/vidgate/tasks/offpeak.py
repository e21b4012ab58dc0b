"""Off-peak tasks: cheaper class work that runs when capacity is idle, or inside a daily window.

Outside the window an off-peak task is claimed only when no normal task is waiting (the claim orders
normal before off-peak). Inside the window both classes are served first come, first served. An
off-peak task not finished within its deadline (48 h by default) fails with OFF_PEAK_EXPIRED.
"""

from __future__ import annotations

import re
from datetime import time

OFF_PEAK_EXPIRED = "OFF_PEAK_EXPIRED"
_WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")


def parse_window(window: str) -> tuple[time, time] | None:
    """`"22:00-06:00"` -> (22:00, 06:00); `""` -> None (no window). Raises ValueError otherwise."""
    if not window:
        return None
    match = _WINDOW.match(window.strip())
    if not match:
        raise ValueError(f"off-peak window must look like 22:00-06:00, not {window!r}")
    start_h, start_m, end_h, end_m = (int(g) for g in match.groups())
    start, end = time(start_h, start_m), time(end_h, end_m)
    if start == end:
        raise ValueError("off-peak window must not start and end at the same minute")
    return start, end


def window_is_open(window: str, now: time) -> bool:
    """Whether `now` (wall-clock time of day) lies in the window; a window may span midnight."""
    bounds = parse_window(window)
    if bounds is None:
        return False
    start, end = bounds
    if start < end:
        return start <= now < end
    return now >= start or now < end
