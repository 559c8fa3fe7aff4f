"""The evaluation report: a plain table for the terminal and the same figures as JSON."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from services.eval.metrics import Latency, Ratio, Scores


@dataclass(frozen=True, slots=True)
class RunInfo:
    dataset: str
    kb_files: int
    kb_sections: int
    channels: dict[str, int]
    routes: dict[str, str]  # channel -> how its tickets went in
    timeout_s: float
    rate: float
    duration_s: float
    skipped: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = field(default=())


def to_json(info: RunInfo, scores: Scores) -> dict[str, Any]:
    esc = scores.escalation
    return {
        "dataset": info.dataset,
        "run": {
            "kb_files": info.kb_files,
            "kb_sections": info.kb_sections,
            "tickets": scores.tickets,
            "channels": info.channels,
            "routes": info.routes,
            "timeout_s": info.timeout_s,
            "rate_per_s": info.rate,
            "duration_s": round(info.duration_s, 1),
            "skipped": [{"id": i, "reason": r} for i, r in info.skipped],
            "notes": list(info.notes),
        },
        "labelled": scores.labelled,
        "expected_escalate": scores.expected_escalate,
        "escalation": {
            "true_positive": esc.true_positive,
            "false_positive": esc.false_positive,
            "true_negative": esc.true_negative,
            "false_negative": esc.false_negative,
            "undecided": esc.undecided,
            "precision": _ratio(esc.precision),
            "recall": _ratio(esc.recall),
            "must_escalate_recall": _ratio(esc.recall),
            "accuracy": _ratio(esc.accuracy),
        },
        "triggers": [asdict(t) for t in scores.triggers],
        "grounded_answer_rate": _ratio(scores.grounded_answers),
        "format_compliance": _ratio(scores.format_compliance),
        "agent_latency_ms": asdict(scores.agent_latency_ms),
        "end_to_end_ms": asdict(scores.end_to_end_ms),
        "timeouts": scores.timeouts,
        "not_sent": scores.not_sent,
        "wrong": [{"id": r.id, "channel": r.channel, "reasons": list(r.wrong)} for r in scores.wrong],
        "rows": [asdict(r) for r in scores.rows],
    }


def write_json(path: Path, info: RunInfo, scores: Scores) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_json(info, scores), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _ratio(ratio: Ratio) -> dict[str, Any]:
    value = ratio.value
    return {"value": round(value, 4) if value is not None else None, "hits": ratio.hits, "total": ratio.total}


def render_text(info: RunInfo, scores: Scores) -> str:
    esc = scores.escalation
    channels = ", ".join(f"{n} {ch}" for ch, n in sorted(info.channels.items()))
    lines = [
        f"fte eval {info.dataset}",
        f"  {scores.tickets} tickets ({channels}); {scores.labelled} labelled, {scores.expected_escalate} expected to "
        f"escalate; knowledge base: {info.kb_sections} sections from {info.kb_files} files; {info.duration_s:.0f} s",
        "",
        "escalation (positive class: escalate)",
        _figure("precision", esc.precision),
        _figure("recall (must-escalate)", esc.recall),
        _figure("accuracy", esc.accuracy),
        f"  {'':<26}tp {esc.true_positive}  fp {esc.false_positive}  tn {esc.true_negative}  fn {esc.false_negative}"
        f"  no outcome (expected resolve) {esc.undecided}",
        "",
    ]
    lines += _trigger_table(scores)
    lines += [
        "",
        _figure("grounded-answer rate", scores.grounded_answers, "answered tickets expected to resolve"),
        _figure("channel-format compliance", scores.format_compliance, "replies"),
        _latency("agent latency", scores.agent_latency_ms),
        _latency("send -> reply stored", scores.end_to_end_ms),
        f"  {'timeouts / not sent':<26}{scores.timeouts} / {scores.not_sent}",
        "",
    ]
    lines += _wrong_table(scores)
    if info.skipped:
        lines += ["", f"skipped tickets ({len(info.skipped)})"]
        lines += [f"  {ticket_id:<12} {reason}" for ticket_id, reason in info.skipped]
    if info.notes:
        lines += ["", "notes"] + [f"  {note}" for note in info.notes]
    return "\n".join(lines)


def _figure(name: str, ratio: Ratio, of: str = "") -> str:
    value = f"{ratio.value:6.1%}" if ratio.value is not None else "     -"
    suffix = f" {of}" if of else ""
    return f"  {name:<26}{value}   ({ratio.hits}/{ratio.total}{suffix})"


def _latency(name: str, latency: Latency) -> str:
    if not latency.count:
        return f"  {name:<26}     -"
    return f"  {name:<26}p50 {latency.p50:.0f} ms   p95 {latency.p95:.0f} ms   ({latency.count} replies)"


def _trigger_table(scores: Scores) -> list[str]:
    if not scores.triggers:
        return ["accuracy per trigger: no ticket is expected to escalate"]
    width = max(26, *(len(t.label) + 2 for t in scores.triggers))
    lines = ["accuracy per trigger (expected-escalate tickets by their escalation_reason label)"]
    lines.append(f"  {'label':<{width}}{'escalated':>10}{'right reason':>14}   our reason codes")
    for t in scores.triggers:
        right = f"{t.right_reason}/{t.escalated}" if t.right_reason is not None else "-"
        codes = ", ".join(t.codes) if t.codes else "(label not mapped)"
        lines.append(f"  {t.label:<{width}}{f'{t.escalated}/{t.tickets}':>10}{right:>14}   {codes}")
    return lines


def _wrong_table(scores: Scores) -> list[str]:
    wrong = scores.wrong
    if not wrong:
        return ["tickets we got wrong: none"]
    kinds = Counter(reason.split(" (")[0].split(":")[0] for row in wrong for reason in row.wrong)
    summary = ", ".join(f"{n} {kind}" for kind, n in kinds.most_common())
    width = max(10, *(len(row.id) + 2 for row in wrong))
    lines = [f"tickets we got wrong ({len(wrong)}: {summary})"]
    lines += [f"  {row.id:<{width}}{row.channel:<10}{' | '.join(row.wrong)}" for row in wrong]
    return lines
