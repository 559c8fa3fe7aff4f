"""When a person from the support team can answer: support hours in the team's time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from services.agent.policy.config import PolicyConfig, SupportHours

_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# Enough to get past any run of weekends and holidays a policy file can reasonably list.
_SEARCH_DAYS = 400


def is_staffed(now: datetime, config: PolicyConfig) -> bool:
    """Whether ``now`` falls in support hours. A naive ``now`` is taken as UTC."""
    hours = config.hours
    local = _local(now, hours)
    return _working_day(local.date(), hours) and hours.start_hour <= local.hour < hours.end_hour


def next_human_reply(now: datetime, config: PolicyConfig) -> datetime:
    """When a person picks the conversation up: ``now`` if staffed, else the next opening.

    The result is in the support team's time zone.
    """
    local = _local(now, config.hours)
    if is_staffed(local, config):
        return local
    return _next_opening(local, config.hours)


def describe_when(now: datetime, config: PolicyConfig) -> str:
    """For the acknowledgment: "within 2 business hours" or "on Monday from 9:00 (UTC)"."""
    hours = config.hours
    if is_staffed(now, config):
        unit = "hour" if hours.response_hours == 1 else "hours"
        business = "" if _always_open(hours) else "business "
        return f"within {hours.response_hours} {business}{unit}"
    local = _local(now, hours)
    opening = _next_opening(local, hours)
    day = _DAY_NAMES[opening.weekday()]
    # A weekday name alone is ambiguous a week or more ahead (long holidays).
    if (opening.date() - local.date()).days >= 7:
        day = f"{day} {opening.day} {opening:%B}"
    return f"on {day} from {hours.start_hour}:00 ({hours.timezone})"


def _local(now: datetime, hours: SupportHours) -> datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        now = now.replace(tzinfo=UTC)
    return now.astimezone(hours.zone)


def _working_day(day: date, hours: SupportHours) -> bool:
    return day.weekday() in hours.weekdays and day not in hours.holidays


def _always_open(hours: SupportHours) -> bool:
    return len(hours.weekdays) == 7 and hours.start_hour == 0 and hours.end_hour == 24 and not hours.holidays


def _next_opening(local: datetime, hours: SupportHours) -> datetime:
    zone = hours.zone
    for offset in range(_SEARCH_DAYS):
        day = local.date() + timedelta(days=offset)
        if not _working_day(day, hours):
            continue
        # Round trip through UTC so that an opening inside a DST gap lands on a real local time.
        opening = datetime.combine(day, time(hours.start_hour), tzinfo=zone).astimezone(UTC).astimezone(zone)
        if opening > local:
            return opening
    raise ValueError("the support hours have no working day in the coming year")
