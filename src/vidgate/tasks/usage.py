"""A usage report's window and grouping as a caller writes them (`GET /v3/usage`, `vidgate usage`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from vidgate import clock

DEFAULT_DAYS = 30  # the window when `since` is not given: the last 30 UTC days, today included
MAX_DAYS = 366
GROUPS = ("day", "key", "engine")


@dataclass(frozen=True)
class UsageQuery:
    since: date
    until: date
    group_by: tuple[str, ...]


class BadUsageQuery(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def parse_usage_query(
    since: str | None, until: str | None, group_by: str | None, today: date | None = None
) -> UsageQuery:
    """Days are UTC dates `YYYY-MM-DD`, both ends included; `group_by` a comma-separated subset of
    day, key and engine (empty: one row of totals; default: day)."""
    today = today or datetime.fromtimestamp(clock.now(), UTC).date()
    last = _day("until", until) if until else today
    first = _day("since", since) if since else last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise BadUsageQuery("since", f"since ({first}) is after until ({last}).")
    if (last - first).days + 1 > MAX_DAYS:
        raise BadUsageQuery("since", f"at most {MAX_DAYS} days per report; ask for a shorter window.")
    groups = tuple(
        part.strip() for part in ("day" if group_by is None else group_by).split(",") if part.strip()
    )
    if unknown := [name for name in groups if name not in GROUPS]:
        raise BadUsageQuery("group_by", f"unknown group {unknown[0]!r}; use any of {', '.join(GROUPS)}.")
    return UsageQuery(first, last, tuple(dict.fromkeys(groups)))


def _day(field: str, text: str) -> date:
    try:
        if len(text) != 10:
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise BadUsageQuery(field, f"{text!r} is not a date (YYYY-MM-DD, UTC).") from None
