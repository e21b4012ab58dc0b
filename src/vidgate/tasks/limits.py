"""What one API key may submit: a rate (token bucket), tasks in flight, and tasks per UTC day.

`None` means unlimited. Limits apply to submitting tasks; reading results, listing and cancelling
are not counted (a client polls task-result by design, and polling must never starve its submits).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

UNLIMITED = "unlimited"
PERIODS = {"s": 1, "sec": 1, "second": 1, "min": 60, "minute": 60, "h": 3600, "hour": 3600, "day": 86400}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*([a-z]+)\s*$")


@dataclass(frozen=True)
class KeyLimits:
    rate: int | None = None  # submits per `rate_period_s`, as a bucket of that many tokens
    rate_period_s: int = 60
    concurrency: int | None = None  # tasks QUEUED or PROCESSING at once
    daily: int | None = None  # tasks submitted per UTC calendar day

    @property
    def any(self) -> bool:
        return self.rate is not None or self.concurrency is not None or self.daily is not None

    @property
    def refill_per_s(self) -> float:
        return (self.rate or 0) / self.rate_period_s

    def describe(self) -> str:
        period = {1: "s", 60: "min", 3600: "hour", 86400: "day"}.get(self.rate_period_s)
        period = period or f"{self.rate_period_s}s"
        rate = UNLIMITED if self.rate is None else f"{self.rate}/{period}"
        concurrency = UNLIMITED if self.concurrency is None else str(self.concurrency)
        daily = UNLIMITED if self.daily is None else str(self.daily)
        return f"rate={rate} concurrency={concurrency} daily={daily}"


def parse_rate(text: str) -> tuple[int | None, int]:
    """`60/min` -> (60, 60); `unlimited` -> (None, 60). Periods: s, min, hour, day."""
    if text.strip().lower() == UNLIMITED:
        return None, 60
    match = _RATE.match(text.lower())
    if not match or match.group(2) not in PERIODS or int(match.group(1)) < 1:
        raise ValueError(f"rate {text!r}: use N/s, N/min, N/hour or N/day with N >= 1, or {UNLIMITED!r}")
    return int(match.group(1)), PERIODS[match.group(2)]


def parse_count(text: str | int, what: str) -> int | None:
    """A count limit: a positive integer, or 0 / `unlimited` for none."""
    if isinstance(text, str) and text.strip().lower() == UNLIMITED:
        return None
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{what} {text!r}: use a whole number (0 = {UNLIMITED})") from None
    if value < 0:
        raise ValueError(f"{what} {text!r}: must not be negative (0 = {UNLIMITED})")
    return value or None
