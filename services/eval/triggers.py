"""Which of our escalation reason codes count as right for a dataset's ``escalation_reason`` label.

An editable table: a label matches a row when the row's pattern is found in it (case-insensitive, with
``_`` and ``-`` read as spaces), first row first. A label no row matches is reported as it is, with how many
of its tickets were escalated but no "right reason" figure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TriggerLabel:
    name: str
    pattern: str  # a regular expression searched in the label
    codes: tuple[str, ...]  # our reason codes that are right for it


DEFAULT_TRIGGERS: tuple[TriggerLabel, ...] = (
    TriggerLabel("security", r"\b(secur|breach|compromis|hack|unauthori[sz]ed|phish)", ("security",)),
    TriggerLabel(
        "legal",
        r"\b(legal|lawyer|attorney|lawsuit|litigat|gdpr|ccpa|complian|subpoena|dpa\b|privacy request)",
        ("legal_compliance",),
    ),
    TriggerLabel(
        "refund",
        r"\b(refund|chargeback|charge back|billing dispute|dispute|double charg|overcharg)",
        ("refund_or_billing_dispute",),
    ),
    TriggerLabel("pricing", r"\b(pric|quote|discount|negotiat|custom plan|enterprise deal)", ("pricing_negotiation",)),
    TriggerLabel("cancellation", r"\b(cancel|churn|terminat)", ("cancellation",)),
    TriggerLabel(
        "outage", r"\b(outage|incident|down\b|data loss|lost data|deleted data|service disruption)", ("incident",)
    ),
    TriggerLabel(
        "human request",
        r"\b(human|agent request|representative|real person|talk to (a|someone)|manager|escalation request)",
        ("human_requested",),
    ),
    TriggerLabel(
        "angry / negative",
        r"\b(angry|anger|negative|frustrat|upset|furious|sentiment|profan|abusive|rude|complaint)",
        ("negative_sentiment", "profanity"),
    ),
    TriggerLabel("follow-ups", r"\b(follow ?ups?|repeated|still unresolved|chasing)", ("repeated_followups",)),
    TriggerLabel(
        "no answer",
        r"\b(no answer|not in (the )?(kb|knowledge|docs)|knowledge gap|unknown|out of scope|unanswerable)",
        ("no_grounded_answer",),
    ),
)


def label_key(label: str | None) -> str:
    """The label as reported: lower case, single spaces (``"Pricing_Negotiation"`` -> ``"pricing negotiation"``)."""
    return " ".join(re.sub(r"[_\-]+", " ", label or "").lower().split())


def codes_for(label: str | None, table: tuple[TriggerLabel, ...] = DEFAULT_TRIGGERS) -> tuple[str, ...] | None:
    """Our reason codes that are right for ``label``; None when the table does not know the label."""
    key = label_key(label)
    if not key:
        return None
    for row in table:
        if re.search(row.pattern, key):
            return row.codes
    return None
