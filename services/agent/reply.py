"""Turning a draft into the text a customer reads. Plain functions, no I/O."""

from __future__ import annotations

from dataclasses import dataclass

from services.agent.brain import Draft

SIGNATURE = "Support assistant"


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    escalate: bool
    reason_code: str | None = None
    priority: str = "normal"


def first_name(name: str | None) -> str:
    if not name or not name.strip():
        return "there"
    return name.strip().split()[0]


def compose_reply(draft: Draft, *, customer_name: str | None, ticket_ref: str, brand: str) -> Reply:
    hello = f"Hi {first_name(customer_name)},"
    if not draft.grounded:
        text = (
            f"{hello}\n\nThank you for your message. I could not find a reliable answer to this in our "
            "help center, so I have passed your request to our support team rather than guess. "
            f"A person will reply here as soon as possible.\n\nYour reference: {ticket_ref}\n\n"
            f"{brand}"
        )
        return Reply(text=text, escalate=True, reason_code="no_grounded_answer")
    text = (
        f"{hello}\n\nThanks for getting in touch. Here is what our help center says:\n\n{draft.answer}\n\n"
        "If this does not solve it, reply and we will take it from there.\n\n"
        f"{SIGNATURE}, {brand}"
    )
    return Reply(text=text, escalate=False)
