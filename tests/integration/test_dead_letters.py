"""Poison messages are terminated and copied to the dead-letter stream with their reason."""

from __future__ import annotations

import argparse
import uuid

from services import dlq_cli
from shared.bus import Bus
from subjects import Subjects
from subjects.streams import DLQ
from tests.helpers import eventually


async def test_a_poison_message_lands_in_the_dlq_and_can_be_listed(bus: Bus, stack: object, capsys) -> None:  # type: ignore[no-untyped-def]
    msg_id = f"poison:{uuid.uuid4().hex}"
    await bus.publish_raw(Subjects.inbound("web"), b"{this is not an event", msg_id=msg_id)

    async def dead_letter() -> dict | None:
        info = await bus.js.stream_info(DLQ.name)
        for seq in range(info.state.last_seq, info.state.first_seq - 1, -1):
            if not info.state.messages:
                return None
            msg = await bus.js.get_msg(DLQ.name, seq)
            if (msg.headers or {}).get("Fte-Original-Nats-Msg-Id") == msg_id and msg.subject == Subjects.dlq(
                "FTE_INBOUND", "identity"
            ):
                return {"seq": seq, "headers": msg.headers, "data": msg.data}
        return None

    found = await eventually(dead_letter, timeout=10)
    assert found["headers"]["Fte-Dlq-Reason"] == "terminated"
    assert found["headers"]["Fte-Dlq-Subject"] == Subjects.inbound("web")
    assert found["data"] == b"{this is not an event"

    settings = stack.settings  # type: ignore[attr-defined]
    assert await dlq_cli.run(argparse.Namespace(dlq_command="list", limit=50), settings.nats_url) == 0
    assert msg_id in capsys.readouterr().out
