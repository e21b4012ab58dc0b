"""How long videos and stored inputs are kept: `VIDGATE_RETENTION` as an operator writes it."""

from __future__ import annotations

import re

UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_RETENTION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.IGNORECASE)


def parse_retention(text: str) -> float | None:
    """Seconds to keep for, or None to keep forever (`0`): `7d`, `36h`, `30m`, `90s` or plain seconds."""
    match = _RETENTION.match(text)
    if not match:
        raise ValueError(
            f"{text!r} is not a retention: a number with d, h, m or s (e.g. 7d, 36h), or 0 to keep forever"
        )
    seconds = float(match.group(1)) * UNITS[match.group(2).lower()]
    return None if seconds == 0 else seconds
