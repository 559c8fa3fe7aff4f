"""The evaluation figures, as pure functions over outcome records.

Escalation is scored with "escalate" as the positive class, over the tickets that carry a label. A ticket that
was not sent or got no outcome in time is never counted as right: it lowers the accuracy and, when it should have
been escalated, the recall (nobody was told), but it is not a false escalation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from services.agent.voice import FormattedReply, check_format
from services.bench_e2e import percentile
from services.eval.records import Outcome, ReplyRecord
from services.eval.triggers import DEFAULT_TRIGGERS, TriggerLabel, codes_for, label_key

NO_REASON_LABEL = "(no reason label)"


@dataclass(frozen=True, slots=True)
class Ratio:
    hits: int
    total: int

    @property
    def value(self) -> float | None:
        return self.hits / self.total if self.total else None


@dataclass(frozen=True, slots=True)
class Escalation:
    true_positive: int
    false_positive: int
    true_negative: int
    false_negative: int
    # Tickets expected to resolve that were not sent or got no outcome in time (expected-escalate ones are in
    # false_negative): wrong for the accuracy, but not false escalations.
    undecided: int

    @property
    def precision(self) -> Ratio:
        return Ratio(self.true_positive, self.true_positive + self.false_positive)

    @property
    def recall(self) -> Ratio:
        """Also the recall on must-escalate tickets: every ticket labelled escalate must be escalated."""
        return Ratio(self.true_positive, self.true_positive + self.false_negative)

    @property
    def accuracy(self) -> Ratio:
        right = self.true_positive + self.true_negative
        return Ratio(right, right + self.false_positive + self.false_negative + self.undecided)


@dataclass(frozen=True, slots=True)
class TriggerScore:
    label: str
    tickets: int
    escalated: int
    right_reason: int | None  # None: the label maps to none of our reason codes
    codes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Latency:
    p50: float | None
    p95: float | None
    count: int


@dataclass(frozen=True, slots=True)
class TicketRow:
    id: str
    channel: str
    expected: str | None
    expected_reason: str | None
    outcome: str  # answered | escalated | timeout | not sent
    reason_code: str | None
    grounded: bool | None
    brain: str | None
    confidence: float | None
    latency_ms: int | None
    e2e_ms: float | None
    format_problems: tuple[str, ...]
    wrong: tuple[str, ...]
    notes: tuple[str, ...] = ()
    cited: tuple[str, ...] = ()
    reply: str | None = None


@dataclass(frozen=True, slots=True)
class Scores:
    tickets: int
    labelled: int
    expected_escalate: int
    escalation: Escalation
    triggers: tuple[TriggerScore, ...]
    grounded_answers: Ratio
    format_compliance: Ratio
    agent_latency_ms: Latency
    end_to_end_ms: Latency
    timeouts: int
    not_sent: int
    rows: tuple[TicketRow, ...] = field(default=())

    @property
    def wrong(self) -> tuple[TicketRow, ...]:
        return tuple(row for row in self.rows if row.wrong)


def score(
    outcomes: Sequence[Outcome], *, table: tuple[TriggerLabel, ...] = DEFAULT_TRIGGERS, timeout: float | None = None
) -> Scores:
    rows = tuple(ticket_row(o, table=table, timeout=timeout) for o in outcomes)
    replies = [o.reply for o in outcomes if o.reply is not None]
    return Scores(
        tickets=len(outcomes),
        labelled=sum(o.ticket.expects_escalation is not None for o in outcomes),
        expected_escalate=sum(o.ticket.expects_escalation is True for o in outcomes),
        escalation=escalation_counts(outcomes),
        triggers=trigger_scores(outcomes, table),
        grounded_answers=grounded_answer_rate(outcomes),
        format_compliance=Ratio(sum(not format_problems(r) for r in replies), len(replies)),
        agent_latency_ms=latency([r.latency_ms for r in replies if r.latency_ms is not None]),
        end_to_end_ms=latency([o.e2e_ms for o in outcomes if o.e2e_ms is not None]),
        timeouts=sum(o.sent and o.escalated is None for o in outcomes),
        not_sent=sum(not o.sent for o in outcomes),
        rows=rows,
    )


def escalation_counts(outcomes: Sequence[Outcome]) -> Escalation:
    tp = fp = tn = fn = undecided = 0
    for o in outcomes:
        expected = o.ticket.expects_escalation
        if expected is None:
            continue
        if not o.decided:
            if expected:
                fn += 1  # nobody was told, whatever the cause
            else:
                undecided += 1
        elif expected and o.escalated:
            tp += 1
        elif expected:
            fn += 1
        elif o.escalated:
            fp += 1
        else:
            tn += 1
    return Escalation(tp, fp, tn, fn, undecided)


def trigger_scores(
    outcomes: Sequence[Outcome], table: tuple[TriggerLabel, ...] = DEFAULT_TRIGGERS
) -> tuple[TriggerScore, ...]:
    """Expected-escalate tickets grouped by their ``escalation_reason`` label, in order of first appearance."""
    groups: dict[str, list[Outcome]] = {}
    for o in outcomes:
        if o.ticket.expects_escalation:
            groups.setdefault(label_key(o.ticket.escalation_reason) or NO_REASON_LABEL, []).append(o)
    scores = []
    for label, members in groups.items():
        codes = codes_for(label, table) if label != NO_REASON_LABEL else None
        escalated = [o for o in members if o.escalated]
        right = None if codes is None else sum(o.reason_code in codes for o in escalated)
        scores.append(TriggerScore(label, len(members), len(escalated), right, codes or ()))
    return tuple(scores)


def grounded_answer_rate(outcomes: Sequence[Outcome]) -> Ratio:
    """Among tickets expected to resolve that the agent answered (did not escalate), the grounded share."""
    answered = [o.reply for o in outcomes if o.ticket.expects_escalation is False and o.escalated is False and o.reply]
    return Ratio(sum(r.grounded for r in answered), len(answered))


def format_problems(reply: ReplyRecord) -> list[str]:
    formatted = FormattedReply(channel=reply.channel, text=reply.content, html=reply.html, parts=reply.parts)
    return check_format(formatted)


def latency(values: Sequence[float]) -> Latency:
    if not values:
        return Latency(None, None, 0)
    return Latency(percentile(list(values), 50), percentile(list(values), 95), len(values))


def ticket_row(
    o: Outcome, *, table: tuple[TriggerLabel, ...] = DEFAULT_TRIGGERS, timeout: float | None = None
) -> TicketRow:
    problems = tuple(format_problems(o.reply)) if o.reply else ()
    return TicketRow(
        id=o.ticket.id,
        channel=o.ticket.channel,
        expected=o.ticket.expected_action,
        expected_reason=o.ticket.escalation_reason,
        outcome=_outcome_word(o),
        reason_code=o.reason_code,
        grounded=o.reply.grounded if o.reply else None,
        brain=o.reply.brain if o.reply else None,
        confidence=o.reply.confidence if o.reply else None,
        latency_ms=o.reply.latency_ms if o.reply else None,
        e2e_ms=round(o.e2e_ms, 1) if o.e2e_ms is not None else None,
        format_problems=problems,
        wrong=tuple(wrong_reasons(o, problems, table=table, timeout=timeout)),
        notes=o.notes,
        cited=o.reply.cited_documents if o.reply else (),
        reply=o.reply.content if o.reply else None,
    )


def _outcome_word(o: Outcome) -> str:
    if not o.sent:
        return "not sent"
    if o.escalated is None:
        return "timeout"
    return "escalated" if o.escalated else "answered"


def wrong_reasons(
    o: Outcome,
    problems: Sequence[str] = (),
    *,
    table: tuple[TriggerLabel, ...] = DEFAULT_TRIGGERS,
    timeout: float | None = None,
) -> list[str]:
    """Why this ticket counts against us; empty when it went right."""
    if not o.sent:
        return [f"not sent: {o.error or 'unknown error'}"]
    if o.escalated is None:
        within = f" within {timeout:g} s" if timeout else ""
        return [f"timeout: no outcome{within}"]
    reasons = []
    expected = o.ticket.expects_escalation
    if expected and not o.escalated:
        label = label_key(o.ticket.escalation_reason)
        reasons.append(f"missed escalation ({label})" if label else "missed escalation")
    elif expected is False and o.escalated:
        reasons.append(f"unnecessary escalation ({o.reason_code or 'no reason code'})")
    elif expected and o.escalated:
        codes = codes_for(o.ticket.escalation_reason, table)
        if codes is not None and o.reason_code not in codes:
            reasons.append(
                f"escalated as {o.reason_code or 'no reason code'}, label says {label_key(o.ticket.escalation_reason)}"
            )
    if not o.escalated and o.reply is not None and not o.reply.grounded:
        reasons.append("ungrounded answer")
    if o.reply is None:
        reasons.append("no reply message stored")
    if problems:
        reasons.append("format: " + "; ".join(problems))
    return reasons
