"""Stream specifications. `fte provision` creates or updates exactly these."""

from __future__ import annotations

import msgspec

from subjects.names import Subjects

DAY = 24 * 3600


class StreamSpec(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    subjects: tuple[str, ...]
    description: str
    max_age_seconds: int = 14 * DAY
    duplicate_window_seconds: int = 600
    max_msg_size: int = 1024 * 1024


INBOUND = StreamSpec(
    name="FTE_INBOUND",
    subjects=(Subjects.inbound_all,),
    description="Customer messages as received by the ingress services",
)
WORK = StreamSpec(
    name="FTE_WORK",
    subjects=(Subjects.work_all,),
    description="Resolved work items for the agent",
)
OUTBOUND = StreamSpec(
    name="FTE_OUTBOUND",
    subjects=(Subjects.outbound_all,),
    description="Replies waiting for the dispatcher",
)
EVENTS = StreamSpec(
    name="FTE_EVENTS",
    subjects=(Subjects.events_all,),
    description="Escalations, deliveries, ticket status changes and alerts",
)
DLQ = StreamSpec(
    name="FTE_DLQ",
    subjects=(Subjects.dlq_all,),
    description="Messages that exhausted their deliveries or were terminated",
    max_age_seconds=30 * DAY,
)

STREAMS: tuple[StreamSpec, ...] = (INBOUND, WORK, OUTBOUND, EVENTS, DLQ)


def stream_for_subject(subject: str) -> StreamSpec:
    for spec in STREAMS:
        for pattern in spec.subjects:
            if _matches(pattern, subject):
                return spec
    raise LookupError(f"no stream captures {subject!r}")


def _matches(pattern: str, subject: str) -> bool:
    p_tokens, s_tokens = pattern.split("."), subject.split(".")
    for i, part in enumerate(p_tokens):
        if part == ">":
            return len(s_tokens) > i
        if i >= len(s_tokens) or (part != "*" and part != s_tokens[i]):
            return False
    return len(p_tokens) == len(s_tokens)
