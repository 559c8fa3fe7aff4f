"""End to end: a customer writes on the web form (email and phone), then on WhatsApp from that phone
in another format (through Twilio's signed webhook, via the local stand-in), then by email; all
three land in one customer and one conversation with two channel switches, seen via the staff API."""

from __future__ import annotations

import asyncpg
import httpx

from services.fakes import RunningFake
from shared.bus import Bus
from tests.helpers import eventually, submission, unique_email
from tests.integration.identity_support import (
    STAFF,
    email_event,
    publish,
    resolved,
    unique_name,
    unique_phone,
    whatsapp_event,
)


async def _whatsapp(fakes: dict[str, RunningFake], bus: Bus, pool: asyncpg.Pool, phone: str, body: str) -> str:
    """The WhatsApp message's event id: through the real webhook when the Twilio stand-in runs,
    otherwise published exactly as ingress-whatsapp publishes it."""
    if "twilio" not in fakes:
        event = whatsapp_event(phone, body, name="Ana")
        await publish(bus, event)
        return event.event_id
    async with httpx.AsyncClient(base_url=fakes["twilio"].base_url) as admin:
        injected = await admin.post("/_fake/inbound", json={"from": phone, "profile_name": "Ana", "body": body})
    assert injected.json()["status_code"] == 200, injected.text
    return f"twilio:{injected.json()['message_sid']}"


async def test_web_then_whatsapp_then_email_is_one_customer_and_one_conversation(
    http: httpx.AsyncClient, bus: Bus, stack: object, fakes: dict[str, RunningFake]
) -> None:
    pool: asyncpg.Pool = stack.runtime.pool  # type: ignore[attr-defined]
    email, phone = unique_email("journey"), unique_phone()
    name = unique_name()  # other tests' "Ana Ruiz" would be same-name suggestions
    digits = phone[2:]
    form = submission(
        name=name,
        email=f"  {email.title()}  ",
        phone=f"({digits[:3]}) {digits[3:6]}-{digits[6:]}",
        message="How do I reset my password? I forgot it and cannot sign in.",
    )
    response = await http.post("/support/submit", json=form)
    assert response.status_code == 201, response.text
    web = await resolved(pool, f"web:{response.json()['ticket_id']}")

    chat_id = await _whatsapp(fakes, bus, pool, phone, "Hi again, the reset email never arrived.")
    chat = await resolved(pool, chat_id, timeout=20)
    mail_event = email_event(email.upper(), "Writing by email now: still no reset email.", subject="Password reset")
    await publish(bus, mail_event)
    mail = await resolved(pool, mail_event.event_id)

    assert web["customer_id"] == chat["customer_id"] == mail["customer_id"]
    senders = await pool.fetch(
        "SELECT metadata -> 'sender' AS sender FROM messages WHERE id = ANY($1::uuid[]) ORDER BY created_at",
        [web["id"], chat["id"], mail["id"]],
    )
    assert [r["sender"] for r in senders] == [
        {"kind": "email", "value": email, "verified": False},  # typed into the form
        {"kind": "phone", "value": phone, "verified": True},  # Twilio authenticated the sender
        {"kind": "email", "value": email, "verified": True},  # the Gmail mailbox received it
    ]
    assert web["conversation_id"] == chat["conversation_id"] == mail["conversation_id"]

    found = await http.get("/customers/lookup", params={"phone": f"+1.{digits}"}, headers=STAFF)
    assert found.status_code == 200, found.text
    customer = found.json()
    assert customer["id"] == str(web["customer_id"])
    assert customer["display_name"] == name
    identifiers = {i["kind"]: i for i in customer["identifiers"]}
    assert (identifiers["email"]["value"], identifiers["phone"]["value"]) == (email, phone)
    assert identifiers["email"]["verified_channel"] == "email" and identifiers["email"]["verified"]
    assert identifiers["phone"]["verified_channel"] == "whatsapp" and identifiers["phone"]["verified"]
    assert {i["first_seen_channel"] for i in identifiers.values()} == {"web"}
    [conversation] = customer["conversations"]
    assert conversation["status"] == "active"
    switches = conversation["channel_switches"]
    assert [(s["from"], s["to"]) for s in switches] == [("web", "whatsapp"), ("whatsapp", "email")]
    assert all(s["at"] for s in switches)
    assert customer["link_suggestions"] == []

    async def every_message_answered() -> dict | None:
        view = (await http.get(f"/conversations/{conversation['id']}", headers=STAFF)).json()
        agent = [m for m in view["messages"] if m["role"] == "agent"]
        return view if len(agent) >= 3 else None

    view = await eventually(every_message_answered, timeout=30)
    inbound = [m for m in view["messages"] if m["direction"] == "inbound"]
    assert [m["channel"] for m in inbound] == ["web", "whatsapp", "email"]
    assert {m["channel"] for m in view["messages"] if m["role"] == "agent"} == {"web", "whatsapp", "email"}
    assert [(s["from"], s["to"]) for s in view["channel_switches"]] == [("web", "whatsapp"), ("whatsapp", "email")]
