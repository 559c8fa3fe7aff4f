"""Escalation policy of the customer-success agent: pure, deterministic, configured by TOML."""

from services.agent.policy.acknowledgment import escalation_acknowledgment
from services.agent.policy.config import (
    PolicyConfig,
    PolicyError,
    Priority,
    SupportHours,
    Thresholds,
    TriggerRule,
    load_policy,
)
from services.agent.policy.guardrails import Violation, check_reply, is_prompt_injection, sanitize_reply
from services.agent.policy.hours import describe_when, is_staffed, next_human_reply
from services.agent.policy.sentiment import sentiment_score
from services.agent.policy.triggers import ConversationSignals, Trigger, evaluate

__all__ = [
    "ConversationSignals",
    "PolicyConfig",
    "PolicyError",
    "Priority",
    "SupportHours",
    "Thresholds",
    "Trigger",
    "TriggerRule",
    "Violation",
    "check_reply",
    "describe_when",
    "escalation_acknowledgment",
    "evaluate",
    "is_prompt_injection",
    "is_staffed",
    "load_policy",
    "next_human_reply",
    "sanitize_reply",
    "sentiment_score",
]
