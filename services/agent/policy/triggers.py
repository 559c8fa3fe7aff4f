"""Escalation triggers: which reasons a customer message gives to hand the conversation to a person.

The matching itself is data (``default_policy.toml``); the decisions it encodes include:

* a question about the service status ("is your API down?") is not an incident, an assertion of broad
  impact ("down for the whole team", "everyone gets 500s") or of lost data is; one user's error is not;
* a pricing FAQ ("what is the price of the Team plan?") is not a negotiation;
* product how-tos that share a keyword (refunds to *my* customers in the invoicing module, cancelling
  a recurring task, the agent field) are blanked out by each trigger's negative patterns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from services.agent.policy.config import PRIORITIES, PolicyConfig, TriggerRule
from services.agent.policy.matching import bare_form, blank_out, compile_rule, first_match
from services.agent.policy.sentiment import sentiment_score
from services.agent.policy.text import normalise

_EVIDENCE_LIMIT = 120


@dataclass(frozen=True, slots=True)
class ConversationSignals:
    """What the conversation so far says, beyond the current message."""

    unresolved_followups: int = 0
    no_answer_count: int = 0

    def __post_init__(self) -> None:
        if self.unresolved_followups < 0 or self.no_answer_count < 0:
            raise ValueError("conversation signal counts cannot be negative")


@dataclass(frozen=True, slots=True)
class Trigger:
    reason_code: str
    priority: str
    evidence: str


def _negative_sentiment(text: str, context: ConversationSignals, config: PolicyConfig) -> str | None:
    score = sentiment_score(text)
    threshold = config.thresholds.negative_sentiment
    return f"sentiment {score:.2f} < {threshold:.2f}" if score < threshold else None


def _repeated_followups(text: str, context: ConversationSignals, config: PolicyConfig) -> str | None:
    limit = config.thresholds.max_unresolved_followups
    count = context.unresolved_followups
    return f"{count} unresolved follow-ups (limit {limit})" if count >= limit else None


def _no_grounded_answer(text: str, context: ConversationSignals, config: PolicyConfig) -> str | None:
    limit = config.thresholds.no_answer_count
    count = context.no_answer_count
    return f"no grounded answer {count} times (limit {limit})" if count >= limit else None


_SIGNALS: dict[str, Callable[[str, ConversationSignals, PolicyConfig], str | None]] = {
    "negative_sentiment": _negative_sentiment,
    "repeated_followups": _repeated_followups,
    "no_grounded_answer": _no_grounded_answer,
}


def evaluate(text: str, *, channel: str, context: ConversationSignals, config: PolicyConfig) -> list[Trigger]:
    """Every enabled trigger that fires, most urgent first (ties keep the policy file's order)."""
    normalised = normalise(text)
    fired: list[tuple[int, int, Trigger]] = []
    for order, rule in enumerate(config.triggers):
        if not rule.enabled:
            continue
        evidence = _text_evidence(rule, normalised, channel.casefold())
        if evidence is None and rule.reason_code in _SIGNALS:
            evidence = _SIGNALS[rule.reason_code](text, context, config)
        if evidence is not None:
            trigger = Trigger(rule.reason_code, rule.priority, evidence[:_EVIDENCE_LIMIT])
            fired.append((PRIORITIES.index(rule.priority), order, trigger))
    fired.sort(key=lambda item: item[:2])
    return [trigger for _, _, trigger in fired]


def _text_evidence(rule: TriggerRule, normalised: str, channel: str) -> str | None:
    compiled = compile_rule(rule)
    if channel in compiled.bare_channels and compiled.bare_messages:
        bare = bare_form(normalised)
        if bare in compiled.bare_messages:
            return bare
    if not compiled.positives:
        return None
    return first_match(blank_out(normalised, compiled.negatives), compiled.positives)
