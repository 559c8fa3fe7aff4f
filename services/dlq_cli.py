"""`fte dlq list` and `fte dlq replay`: look at dead letters and send one back to its subject."""

from __future__ import annotations

import argparse
import contextlib

import nats.errors
from nats.js.errors import NotFoundError

from shared.bus import Bus
from subjects import decode_event
from subjects.streams import DLQ


async def run(args: argparse.Namespace, nats_url: str) -> int:
    bus = await Bus.connect(nats_url)
    try:
        if args.dlq_command == "list":
            return await _list(bus, args.limit)
        return await _replay(bus, args.sequence)
    finally:
        await bus.close()


async def _list(bus: Bus, limit: int) -> int:
    info = await bus.js.stream_info(DLQ.name)
    first, last = info.state.first_seq, info.state.last_seq
    if not info.state.messages:
        print("no dead letters")
        return 0
    shown = 0
    for seq in range(last, first - 1, -1):
        if shown >= limit:
            break
        with contextlib.suppress(NotFoundError, nats.errors.Error):
            msg = await bus.js.get_msg(DLQ.name, seq)
            headers = msg.headers or {}
            kind = "?"
            with contextlib.suppress(Exception):
                kind = type(decode_event(msg.data or b"")).__name__
            print(
                f"{seq:>8}  {headers.get('Fte-Dlq-Reason', '?'):15} {headers.get('Fte-Dlq-Consumer', '?'):12} "
                f"{headers.get('Fte-Dlq-Subject', '?'):22} {kind:16} "
                f"{headers.get('Fte-Original-Nats-Msg-Id', '')}"
            )
            shown += 1
    print(f"{info.state.messages} dead letter(s) in {DLQ.name}")
    return 0


async def _replay(bus: Bus, sequence: int) -> int:
    msg = await bus.js.get_msg(DLQ.name, sequence)
    headers = msg.headers or {}
    subject = headers.get("Fte-Dlq-Subject")
    if not subject:
        print(f"dead letter {sequence} does not name its original subject")
        return 1
    original_id = headers.get("Fte-Original-Nats-Msg-Id", f"seq{sequence}")
    # A new message id: the original may still be inside the duplicate window. Handlers stay
    # idempotent on the event's own id, so a replay never doubles what was already done.
    ack = await bus.publish_raw(subject, msg.data or b"", msg_id=f"replay:{sequence}:{original_id}")
    print(f"replayed dead letter {sequence} to {subject} (stream sequence {ack.seq})")
    return 0
