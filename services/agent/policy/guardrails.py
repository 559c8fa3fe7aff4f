"""Checks on the agent's own replies, and the prompt-injection flag on customer text.

A reply must not name competitors (unless the knowledge it was grounded in does), and must not
promise refunds, credits, discounts or free periods: only a person can. Customer text is data,
never instructions; ``is_prompt_injection`` only flags it for the record.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from services.agent.policy.config import PolicyConfig
from services.agent.policy.text import normalise


@dataclass(frozen=True, slots=True)
class Violation:
    code: str  # competitor_mention, refund_promise, price_promise, ungrounded_amount
    detail: str


# Only auxiliaries and adverbs may stand between "I"/"we" and the verb: "I can offer", "we'll gladly
# refund", "I'd be happy to apply", but not "I can't promise" or "I hear you want a refund".
_AUX = (
    r"(?: (?:can|could|will|would|shall|should|may|might|am|are|have|has|just|already|also|gladly"
    r"|happily|certainly|definitely|now|immediately|personally|go ahead and|be|able|happy|glad|going"
    r"|to|get|make sure to))"
)
_I = rf"\bi(?:'ll|'d|'ve|'m)?{_AUX}{{0,4}}"
# "we" needs a modal: "we offer a free plan" states the product, "we can offer you" promises.
_WE = rf"\bwe(?:(?:'ll|'d|'ve|'re){_AUX}{{0,4}}|{_AUX}{{1,4}})"
_SUBJECT = rf"(?:{_I}|{_WE})"
_REFUND_VERBS = r"(?:refund|reimburse|credit|compensate|waive|reverse|comp)(?:s|ed|ing)?\b"
_OFFER_VERBS = (
    r"(?:offer|give|extend|apply|provide|grant|add|throw in|honou?r|arrange|upgrade|match|lower"
    r"|reduce|discount|knock|take|set you up with)\w*\b"
)
_OFFER_TERMS = (
    r"\b(?:discounts?|\d+(?:\.\d+)? ?(?:%|percent)(?: off)?|free|coupons?|promo|rebates?"
    r"|price match|cheaper|lower price|special price|no (?:extra |additional )?(?:charge|cost)"
    r"|complimentary|months? off|credits?|refunds?)"
)

_REFUND_PROMISES = tuple(
    re.compile(source)
    for source in (
        rf"{_SUBJECT} {_REFUND_VERBS}",
        rf"{_SUBJECT} (?:issue|process|initiate|approve|authori[sz]e|send|arrange)\w*\b[^.!?]{{0,30}}"
        r"\b(?:refund|reimbursement|money back|chargeback reversal)\b(?! request)",
        r"\b(?:your |the |a |full |partial )+(?:refund|credit|reimbursement)( \w+){0,2}"
        r" (?:has been|have been|was|is being|will be)"
        r" (?:processed|issued|approved|initiated|applied|sent|granted)\b",
        r"\byou(?:'ll| will)(?: \w+)? (?:get|receive|see|be refunded|be credited|be reimbursed)\b[^.!?]{0,30}"
        r"\b(?:refund|credit|money back|reimburse)",
    )
)
_PRICE_PROMISES = tuple(
    re.compile(source)
    for source in (
        rf"{_SUBJECT} {_OFFER_VERBS}[^.!?]{{0,60}}{_OFFER_TERMS}",
        rf"\bwe {_OFFER_VERBS} (?:you|u)\b[^.!?]{{0,60}}{_OFFER_TERMS}",
    )
)
# Offer terms that a reply may only state when the knowledge says the same.
_OFFER_STATEMENTS = tuple(
    re.compile(source)
    for source in (
        r"[$€£] ?\d[\d,]*(?:\.\d+)?(?: \w+)? (?:off|discount|credit|rebate|refund)\b",
        r"\b\d+(?:\.\d+)? ?(?:%|percent) (?:off|discount)\b",
        r"\b(?:discount|credit|rebate|reduction) of [$€£]?\d",
        r"\bfree (?:of charge )?for (?:a|an|one|two|three|six|twelve|\d+|the (?:first|next|rest of the))"
        r"(?: \w+)? (?:years?|months?|weeks?|days?|quarters?)\b",
        r"\b(?:\d+|a|one|two|three|six|twelve|an extra|extra|additional) (?:\w+ )?(?:months?|years?|weeks?)"
        r"(?: for)? free\b",
        r"\bfree (?:upgrade|months?|seats?|licen[sc]es?|year)\b",
    )
)
_AMOUNT = re.compile(
    r"(?:[$€£] ?(\d[\d,]*(?:\.\d+)?)|\b(\d[\d,]*(?:\.\d+)?) ?"
    r"(?:%|percent\b|usd\b|eur\b|gbp\b|dollars?\b|euros?\b|pounds?\b))"
)
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")

_INJECTION = tuple(
    re.compile(source)
    for source in (
        r"\b(?:ignore|disregard|forget|override|bypass|skip|abandon)\b(?: \w+){0,3}? (?:all|any|the|these|those"
        r"|previous|prior|above|earlier|preceding|system|your|initial|original)\b[^.!?\n]{0,25}\b(?:instructions?"
        r"|prompts?|rules|directions|directives|guidelines|guardrails|constraints|programming|polic(?:y|ies))\b",
        r"\bdisregard (?:all of |everything )?(?:the|what(?:'s| is)) above\b",
        r"\byou are now (?:a|an|in|my|the|no longer|free|dan|unrestricted|jailbroken|acting|going to act)\b",
        r"\bfrom now on,? you (?:are|will|must|should|shall)\b",
        r"\bsystem prompt\b",
        r"\b(?:reveal|show|print|repeat|output|tell me|display|leak|dump|what (?:are|is))\b[^.!?\n]{0,20}"
        r"\byour (?:system |initial |hidden |original |secret )?(?:instructions|prompt)\b",
        r"\b(?:the|your) (?:system|initial|hidden|original|secret) (?:instructions|rules)\b",
        r"(?:^|[.!?:;\n] ?|\b(?:please|now|just|you will|you must|you should|i want you to|you are to"
        r"|from now on,?) )act as (?:a|an|my|if|though|the)\b",
        r"\bpretend (?:to be|you are|you're|that you)\b",
        r"\brole-?play as\b",
        r"\b(?:jailbreak\w*|dan mode|developer mode|god mode|do anything now)\b",
        r"\bnew (?:system )?instructions? ?:",
        r"(?:^|\n) ?(?:system|assistant|developer) ?:",
        r"<\|?(?:im_start|im_end|system|endoftext)\|?>|\[/?(?:system|inst)\]|###+ ?(?:system|instruction)",
        r"\b(?:do not|don't) (?:follow|obey) (?:your|the|any) (?:rules|instructions|guidelines)\b",
    )
)


def check_reply(reply: str, *, config: PolicyConfig, knowledge_text: str | None = None) -> list[Violation]:
    """Every problem in a draft reply; empty when it may be sent as it is."""
    text = normalise(reply)
    knowledge = normalise(knowledge_text) if knowledge_text is not None else None
    found: list[Violation] = []
    for name in config.competitors:
        pattern = _competitor(name)
        if pattern.search(text) and not (knowledge and pattern.search(knowledge)):
            found.append(Violation("competitor_mention", name))
    found += [Violation("refund_promise", match) for match in _matches(text, _REFUND_PROMISES)]
    found += [Violation("price_promise", match) for match in _matches(text, _PRICE_PROMISES)]
    found += [
        Violation("price_promise", match)
        for match in _matches(text, _OFFER_STATEMENTS)
        if not (knowledge and match in knowledge)
    ]
    if knowledge is not None:
        grounded = {_number(match) for match in _NUMBER.findall(knowledge)}
        found += [
            Violation("ungrounded_amount", match.group(0).strip())
            for match in _AMOUNT.finditer(text)
            if _number(match.group(1) or match.group(2)) not in grounded
        ]
    return list(dict.fromkeys(found))


def sanitize_reply(reply: str, *, config: PolicyConfig, knowledge_text: str | None = None) -> str:
    """The reply without the sentences that break a guardrail; line structure is kept."""
    lines: list[str] = []
    for line in reply.splitlines():
        sentences = [sentence for sentence in _SENTENCE_END.split(line.strip()) if sentence]
        kept = [s for s in sentences if not check_reply(s, config=config, knowledge_text=knowledge_text)]
        if kept or not sentences:
            lines.append(" ".join(kept))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def is_prompt_injection(text: str) -> bool:
    """Whether customer text tries to instruct the agent. Recorded only: the text is still answered."""
    # Keep the line breaks that normalise() collapses: role markers ("system:") sit at line starts.
    lines = [normalise(line) for line in text.splitlines()]
    flattened = "\n".join(line for line in lines if line)
    return any(pattern.search(flattened) for pattern in _INJECTION)


def _competitor(name: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w.]){re.escape(normalise(name))}(?!\w)")


def _matches(text: str, patterns: tuple[re.Pattern[str], ...]) -> list[str]:
    return [match.group(0).strip() for pattern in patterns for match in pattern.finditer(text)]


def _number(raw: str) -> Decimal | None:
    try:
        return Decimal(raw.replace(",", "")).normalize()
    except InvalidOperation:
        return None
