"""What the agent does with a message: plain rules over policy results and the brain's draft.

Policy runs first and last, and a model cannot override it: a trigger escalates whatever a brain
would have said, and guardrails remove what a brain must not promise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from services.agent.brain import Draft
from services.agent.policy import (
    PolicyConfig,
    Trigger,
    check_reply,
    escalation_acknowledgment,
    sanitize_reply,
)

PRIORITY_ORDER = {"low": 0, "normal": 1, "high": 2, "urgent": 3}
UNSUPPORTED_MEDIA_ANSWER = (
    "I can only read text messages here, so I could not open what you sent. Could you describe your "
    "question in a few words? I will gladly help."
)


@dataclass(frozen=True)
class Decision:
    """The reply body (before channel voice) and whether a person takes over."""

    body: str
    escalate: bool
    reason_code: str | None = None
    priority: str = "normal"
    grounded: bool = False
    guardrail_violations: list[str] = field(default_factory=list)

    @property
    def uses_citations(self) -> bool:
        return self.grounded and not self.escalate


def escalation(
    reason_code: str, priority: str, *, name: str | None, ticket_ref: str, now: datetime, config: PolicyConfig
) -> Decision:
    body = escalation_acknowledgment(reason_code, name=name, ticket_ref=ticket_ref, now=now, config=config)
    return Decision(body=body, escalate=True, reason_code=reason_code, priority=priority)


def strongest(triggers: list[Trigger]) -> Trigger | None:
    return max(triggers, key=lambda t: PRIORITY_ORDER.get(t.priority, 1), default=None)


def decide(
    draft: Draft,
    *,
    name: str | None,
    ticket_ref: str,
    now: datetime,
    config: PolicyConfig,
    knowledge_text: str,
) -> Decision:
    """After the brain: escalate when it asked to or found nothing; otherwise keep only what the
    guardrails allow."""
    if draft.escalate:
        return escalation(
            draft.reason_code or "human_requested",
            draft.priority or "normal",
            name=name,
            ticket_ref=ticket_ref,
            now=now,
            config=config,
        )
    if not draft.grounded or not draft.answer.strip():
        return escalation("no_grounded_answer", "normal", name=name, ticket_ref=ticket_ref, now=now, config=config)
    violations = check_reply(draft.answer, config=config, knowledge_text=knowledge_text)
    body = sanitize_reply(draft.answer, config=config, knowledge_text=knowledge_text) if violations else draft.answer
    if not body.strip():
        decision = escalation("no_grounded_answer", "normal", name=name, ticket_ref=ticket_ref, now=now, config=config)
        return Decision(**{**decision.__dict__, "guardrail_violations": [v.code for v in violations]})
    return Decision(body=body, escalate=False, grounded=True, guardrail_violations=[v.code for v in violations])
