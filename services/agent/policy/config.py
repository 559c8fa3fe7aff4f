"""The escalation policy: triggers, thresholds, guardrail competitors, support hours and templates.

The packaged ``default_policy.toml`` is always the base. A company file passed to ``load_policy`` is
deep-merged over it: tables merge key by key, every other value (lists included) replaces.
"""

from __future__ import annotations

import re
import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from services.agent.policy.matching import compile_rule

Priority = Literal["low", "normal", "high", "urgent"]
PRIORITIES: tuple[Priority, ...] = ("urgent", "high", "normal", "low")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PLACEHOLDERS = frozenset({"name", "ticket", "when"})
DEFAULT_POLICY = "default_policy.toml"

_TOP_KEYS = {"version", "competitors", "thresholds", "hours", "templates", "triggers"}
_RULE_KEYS = {
    "enabled",
    "priority",
    "phrases",
    "patterns",
    "negative_patterns",
    "words",
    "bare_messages",
    "bare_channels",
}
_THRESHOLD_KEYS = {"negative_sentiment", "max_unresolved_followups", "no_answer_count"}
_HOURS_KEYS = {"timezone", "weekdays", "start_hour", "end_hour", "response_hours", "holidays"}


class PolicyError(ValueError):
    """The policy file is malformed."""


@dataclass(frozen=True, slots=True)
class TriggerRule:
    reason_code: str
    enabled: bool = True
    priority: Priority = "normal"
    phrases: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    negative_patterns: tuple[str, ...] = ()
    # Whole words, matched tolerant of obfuscation ("f*ck"); used for profanity.
    words: tuple[str, ...] = ()
    # Messages that trigger on their own (punctuation ignored), only on bare_channels.
    bare_messages: tuple[str, ...] = ()
    bare_channels: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Thresholds:
    negative_sentiment: float = -0.6
    max_unresolved_followups: int = 3
    no_answer_count: int = 2


@dataclass(frozen=True, slots=True)
class SupportHours:
    timezone: str = "UTC"
    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4)  # Monday is 0, as in date.weekday()
    start_hour: int = 9
    end_hour: int = 17
    response_hours: int = 2
    holidays: tuple[date, ...] = ()

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    triggers: tuple[TriggerRule, ...]
    thresholds: Thresholds
    competitors: tuple[str, ...]
    hours: SupportHours
    templates: tuple[tuple[str, str], ...]

    def rule(self, reason_code: str) -> TriggerRule | None:
        return next((rule for rule in self.triggers if rule.reason_code == reason_code), None)

    def template_for(self, reason_code: str) -> str:
        templates = dict(self.templates)
        return templates.get(reason_code, templates["default"])


def load_policy(path: str | Path | None = None) -> PolicyConfig:
    """The packaged default policy, with the company file at ``path`` merged over it."""
    data = tomllib.loads(files(__package__).joinpath(DEFAULT_POLICY).read_text(encoding="utf-8"))
    if path is not None:
        try:
            override = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise PolicyError(f"{path}: {exc}") from exc
        data = _merge(data, override)
    return parse_policy(data)


def parse_policy(data: Mapping[str, Any]) -> PolicyConfig:
    _check_keys("policy", data, _TOP_KEYS)
    return PolicyConfig(
        triggers=tuple(_rule(code, spec) for code, spec in _table(data, "triggers").items()),
        thresholds=_thresholds(_table(data, "thresholds")),
        competitors=tuple(_strings("competitors", data.get("competitors", []))),
        hours=_hours(_table(data, "hours")),
        templates=_templates(_table(data, "templates")),
    )


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _check_keys(where: str, table: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise PolicyError(f"{where}: unknown keys {unknown}")


def _table(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, Mapping):
        raise PolicyError(f"{key} must be a table")
    return cast(Mapping[str, Any], value)


def _strings(where: str, value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise PolicyError(f"{where} must be a list of strings")
    return cast(list[str], value)


def _integer(where: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise PolicyError(f"{where} must be an integer in [{low}, {high}]")
    return value


def _rule(code: str, spec: object) -> TriggerRule:
    if not isinstance(spec, Mapping):
        raise PolicyError(f"triggers.{code} must be a table")
    _check_keys(f"triggers.{code}", spec, _RULE_KEYS)
    enabled = spec.get("enabled", True)
    priority = spec.get("priority", "normal")
    if not isinstance(enabled, bool):
        raise PolicyError(f"triggers.{code}.enabled must be true or false")
    if priority not in PRIORITIES:
        raise PolicyError(f"triggers.{code}.priority must be one of {list(PRIORITIES)}")

    def strings(key: str) -> tuple[str, ...]:
        return tuple(_strings(f"triggers.{code}.{key}", spec.get(key, [])))

    rule = TriggerRule(
        reason_code=code,
        enabled=enabled,
        priority=cast(Priority, priority),
        phrases=strings("phrases"),
        patterns=strings("patterns"),
        negative_patterns=strings("negative_patterns"),
        words=strings("words"),
        bare_messages=strings("bare_messages"),
        bare_channels=strings("bare_channels"),
    )
    try:
        compile_rule(rule)
    except re.error as exc:
        raise PolicyError(f"triggers.{code}: invalid pattern: {exc}") from exc
    return rule


def _thresholds(spec: Mapping[str, Any]) -> Thresholds:
    _check_keys("thresholds", spec, _THRESHOLD_KEYS)
    default = Thresholds()
    sentiment = spec.get("negative_sentiment", default.negative_sentiment)
    if isinstance(sentiment, bool) or not isinstance(sentiment, int | float) or not -1 <= sentiment <= 1:
        raise PolicyError("thresholds.negative_sentiment must be a number in [-1, 1]")
    return Thresholds(
        negative_sentiment=float(sentiment),
        max_unresolved_followups=_integer(
            "thresholds.max_unresolved_followups",
            spec.get("max_unresolved_followups", default.max_unresolved_followups),
            1,
            1000,
        ),
        no_answer_count=_integer(
            "thresholds.no_answer_count", spec.get("no_answer_count", default.no_answer_count), 1, 1000
        ),
    )


def _hours(spec: Mapping[str, Any]) -> SupportHours:
    _check_keys("hours", spec, _HOURS_KEYS)
    default = SupportHours()
    timezone = spec.get("timezone", default.timezone)
    if not isinstance(timezone, str):
        raise PolicyError("hours.timezone must be a string")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise PolicyError(f"hours.timezone: unknown time zone {timezone!r}") from exc
    weekdays = _strings("hours.weekdays", spec.get("weekdays", list(WEEKDAYS[:5])))
    names = [name.casefold()[:3] for name in weekdays]
    if not names or any(name not in WEEKDAYS for name in names):
        raise PolicyError(f"hours.weekdays must be a non-empty list of {list(WEEKDAYS)}")
    start = _integer("hours.start_hour", spec.get("start_hour", default.start_hour), 0, 23)
    end = _integer("hours.end_hour", spec.get("end_hour", default.end_hour), 1, 24)
    if end <= start:
        raise PolicyError("hours.end_hour must be after hours.start_hour")
    holidays = spec.get("holidays", [])
    if not isinstance(holidays, list) or not all(type(day) is date for day in holidays):
        raise PolicyError("hours.holidays must be a list of dates (1970-01-01, unquoted)")
    return SupportHours(
        timezone=timezone,
        weekdays=tuple(sorted({WEEKDAYS.index(name) for name in names})),
        start_hour=start,
        end_hour=end,
        response_hours=_integer("hours.response_hours", spec.get("response_hours", default.response_hours), 1, 168),
        holidays=tuple(sorted(set(holidays))),
    )


def _templates(spec: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    if "default" not in spec:
        raise PolicyError("templates.default is required")
    for code, template in spec.items():
        if not isinstance(template, str) or not template.strip():
            raise PolicyError(f"templates.{code} must be a non-empty string")
        try:
            fields = {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}
        except ValueError as exc:
            raise PolicyError(f"templates.{code}: {exc}") from exc
        if not fields <= PLACEHOLDERS:
            raise PolicyError(f"templates.{code}: unknown placeholders {sorted(fields - PLACEHOLDERS)}")
    return tuple(sorted(spec.items()))
