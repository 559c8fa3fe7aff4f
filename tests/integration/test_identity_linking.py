"""Identity rules through the running mesh: what links automatically, what is only suggested, what
confirms a suggestion, and what never links (real NATS, PostgreSQL and HTTP)."""

from __future__ import annotations

import uuid

import asyncpg
import httpx

from shared.bus import Bus
from tests.helpers import submission, unique_email
from tests.integration.identity_support import (
    STAFF,
    email_event,
    national,
    resolved,
    send,
    unique_name,
    unique_phone,
    whatsapp_event,
)


def _pool(stack: object) -> asyncpg.Pool:
    return stack.runtime.pool  # type: ignore[attr-defined]


async def _submit(http: httpx.AsyncClient, pool: asyncpg.Pool, **fields: object) -> asyncpg.Record:
    response = await http.post("/support/submit", json=submission(**{"name": unique_name(), **fields}))
    assert response.status_code == 201, response.text
    return await resolved(pool, f"web:{response.json()['ticket_id']}")


async def _customer(http: httpx.AsyncClient, customer_id: uuid.UUID) -> dict:
    response = await http.get(f"/customers/{customer_id}", headers=STAFF)
    assert response.status_code == 200, response.text
    return response.json()


async def test_whatsapp_from_the_phone_given_in_the_form_continues_the_customer_and_conversation(
    http: httpx.AsyncClient, bus: Bus, stack: object
) -> None:
    pool = _pool(stack)
    email, phone = unique_email("form"), unique_phone()
    web = await _submit(http, pool, email=email, phone=national(phone))
    chat = await send(bus, pool, whatsapp_event(phone, "Any news on my password reset?", name="Ana"))
    assert chat["customer_id"] == web["customer_id"]
    assert chat["conversation_id"] == web["conversation_id"]
    assert chat["ticket_id"] == web["ticket_id"]  # the open ticket continues

    view = await _customer(http, web["customer_id"])
    identifiers = {i["kind"]: i for i in view["identifiers"]}
    assert identifiers["email"]["value"] == email and identifiers["email"]["verified"] is False
    assert identifiers["phone"]["value"] == phone and identifiers["phone"]["verified"] is True
    assert identifiers["phone"]["verified_channel"] == "whatsapp"
    assert {i["first_seen_channel"] for i in view["identifiers"]} == {"web"}
    [conversation] = view["conversations"]
    assert [(s["from"], s["to"]) for s in conversation["channel_switches"]] == [("web", "whatsapp")]


async def test_gmail_verifies_the_sender_address(http: httpx.AsyncClient, bus: Bus, stack: object) -> None:
    pool = _pool(stack)
    email = unique_email("mailbox")
    mail = await send(bus, pool, email_event(f"  {email.upper()} ", "How do I export my boards?"))
    view = await _customer(http, mail["customer_id"])
    [identifier] = view["identifiers"]
    assert identifier == {
        **identifier,
        "kind": "email",
        "value": email,
        "verified": True,
        "first_seen_channel": "email",
    }


async def test_identifiers_owned_by_two_customers_are_never_merged(
    http: httpx.AsyncClient, bus: Bus, stack: object
) -> None:
    pool = _pool(stack)
    email, phone = unique_email("conflict"), unique_phone()
    by_mail = await send(bus, pool, email_event(email, "Where are my invoices?"))
    by_chat = await send(bus, pool, whatsapp_event(phone, "How do I add a teammate?"))
    assert by_mail["customer_id"] != by_chat["customer_id"]

    web = await _submit(http, pool, email=email, phone=phone)
    assert web["customer_id"] == by_mail["customer_id"]  # the form's strongest identifier is its email
    mail_view = await _customer(http, by_mail["customer_id"])
    chat_view = await _customer(http, by_chat["customer_id"])
    assert [i["kind"] for i in mail_view["identifiers"]] == ["email"]
    assert [i["kind"] for i in chat_view["identifiers"]] == ["phone"]
    assert mail_view["merged_into"] is None and chat_view["merged_into"] is None
    [suggestion] = mail_view["link_suggestions"]
    assert suggestion["kind"] == "conflict" and suggestion["status"] == "suggested"
    assert suggestion["identifier"] == {"kind": "phone", "value": phone}
    assert suggestion["other_customer_id"] == str(by_chat["customer_id"])
    assert suggestion["evidence"]["event_id"] == f"web:{web['ticket_id']}"


async def test_an_address_mentioned_on_whatsapp_is_only_suggested_until_a_verified_email_confirms_it(
    http: httpx.AsyncClient, bus: Bus, stack: object
) -> None:
    pool = _pool(stack)
    email, phone = unique_email("mention"), unique_phone()
    chat = await send(bus, pool, whatsapp_event(phone, f"Hi! My email is {email.title()} if that helps."))
    view = await _customer(http, chat["customer_id"])
    assert [i["kind"] for i in view["identifiers"]] == ["phone"]
    [suggestion] = view["link_suggestions"]
    assert (suggestion["kind"], suggestion["status"], suggestion["other_customer_id"]) == ("mention", "suggested", None)
    assert suggestion["identifier"] == {"kind": "email", "value": email}
    assert "My email is" in suggestion["evidence"]["excerpt"]

    # An email from that address that does not vouch for the phone: a customer of its own.
    first = await send(bus, pool, email_event(email, "Following up on my question about exports."))
    assert first["customer_id"] != chat["customer_id"]
    assert (await _customer(http, chat["customer_id"]))["link_suggestions"][0]["status"] == "suggested"

    # Verified from the address and naming the verified phone: both sides vouch, the link is made.
    second = await send(
        bus, pool, email_event(email, f"I also wrote to you on WhatsApp from {national(phone)} yesterday.")
    )
    assert second["customer_id"] == chat["customer_id"]
    view = await _customer(http, chat["customer_id"])
    assert {(i["kind"], i["value"], i["verified"]) for i in view["identifiers"]} == {
        ("phone", phone, True),
        ("email", email, True),
    }
    assert [s["status"] for s in view["link_suggestions"] if s["kind"] == "mention"] == ["confirmed"]
    [merge] = view["merges"]
    assert (merge["source"], merge["actor"], merge["undone_at"]) == (str(first["customer_id"]), "identity", None)
    merged = await _customer(http, first["customer_id"])
    assert merged["merged_into"] == str(chat["customer_id"])


async def test_a_first_contact_that_vouches_for_a_claim_links_without_a_second_customer(
    http: httpx.AsyncClient, bus: Bus, stack: object
) -> None:
    pool = _pool(stack)
    email, phone = unique_email("vouch"), unique_phone()
    chat = await send(bus, pool, whatsapp_event(phone, f"you can reach me at {email}"))
    mail = await send(bus, pool, email_event(email, f"Hello, this is me again; my WhatsApp is {phone}."))
    assert mail["customer_id"] == chat["customer_id"]
    assert mail["conversation_id"] == chat["conversation_id"]
    view = await _customer(http, chat["customer_id"])
    assert view["merges"] == []
    assert [(s["kind"], s["status"], s["decided_by"]) for s in view["link_suggestions"]] == [
        ("mention", "confirmed", "identity")
    ]


async def test_a_one_sided_claim_never_links(http: httpx.AsyncClient, bus: Bus, stack: object) -> None:
    pool = _pool(stack)
    victim_phone, email = unique_phone(), unique_email("claimer")
    victim = await send(bus, pool, whatsapp_event(victim_phone, "Hello, how do I reset my password?"))
    claimer = await send(bus, pool, email_event(email, f"My phone number is {victim_phone}, please text me."))
    assert claimer["customer_id"] != victim["customer_id"]
    view = await _customer(http, claimer["customer_id"])
    [suggestion] = view["link_suggestions"]
    assert (suggestion["kind"], suggestion["other_customer_id"]) == ("mention", str(victim["customer_id"]))
    assert suggestion["status"] == "suggested"
    assert [i["kind"] for i in (await _customer(http, victim["customer_id"]))["identifiers"]] == ["phone"]


async def test_colleagues_and_people_sharing_a_first_name_stay_apart(
    http: httpx.AsyncClient, bus: Bus, stack: object
) -> None:
    pool = _pool(stack)
    domain = f"acme-{uuid.uuid4().hex[:8]}.com"
    ana = await send(bus, pool, email_event(f"ana@{domain}", "How do I add a board?", name="Ana"))
    other_ana = await send(bus, pool, email_event(f"ana.b@{domain}", "How do I add a board?", name="Ana"))
    ana_chat = await send(bus, pool, whatsapp_event(unique_phone(), "Hi, it's Ana", name="Ana"))
    assert len({ana["customer_id"], other_ana["customer_id"], ana_chat["customer_id"]}) == 3
    for record in (ana, other_ana, ana_chat):
        assert (await _customer(http, record["customer_id"]))["link_suggestions"] == []


async def test_the_same_full_name_on_two_channels_is_suggested_not_merged(
    http: httpx.AsyncClient, bus: Bus, stack: object
) -> None:
    pool = _pool(stack)
    name = f"Zoë {uuid.uuid4().hex[:8]}-Quintero"
    chat = await send(bus, pool, whatsapp_event(unique_phone(), "Hello there", name=name))
    mail = await send(bus, pool, email_event(unique_email("zoe"), "Hello again", name=name.upper().replace("Ë", "E")))
    assert mail["customer_id"] != chat["customer_id"]
    [suggestion] = (await _customer(http, mail["customer_id"]))["link_suggestions"]
    assert (suggestion["kind"], suggestion["status"]) == ("same_name", "suggested")
    assert {suggestion["customer_id"], suggestion["other_customer_id"]} == {
        str(mail["customer_id"]),
        str(chat["customer_id"]),
    }

    rejected = await http.post(
        f"/link-suggestions/{suggestion['id']}/reject", json={"reason": "different people"}, headers=STAFF
    )
    assert rejected.status_code == 200, rejected.text
    again = await http.post(f"/link-suggestions/{suggestion['id']}/reject", json={}, headers=STAFF)
    assert again.status_code == 409
    assert (await http.post("/link-suggestions/999999999/reject", headers=STAFF)).status_code == 404


async def test_a_form_conflict_then_a_whatsapp_claim_never_merges_into_the_victim(
    http: httpx.AsyncClient, bus: Bus, stack: object
) -> None:
    """Someone types a victim's address next to their own phone into the form (a conflict), then
    claims the address on WhatsApp from that phone: neither the form nor the conflict it caused is
    a verified claim, so nothing is confirmed and nobody is merged."""
    pool = _pool(stack)
    victim_email, attacker_phone = unique_email("victim"), unique_phone()
    victim = await send(bus, pool, email_event(victim_email, "Where can I download my invoices?"))
    attacker = await send(bus, pool, whatsapp_event(attacker_phone, "Hello"))
    await _submit(http, pool, email=victim_email, phone=attacker_phone)
    claim = await send(bus, pool, whatsapp_event(attacker_phone, f"my email is {victim_email}"))
    assert claim["customer_id"] == attacker["customer_id"] != victim["customer_id"]
    for customer_id in (victim["customer_id"], attacker["customer_id"]):
        view = await _customer(http, customer_id)
        assert view["merged_into"] is None and view["merges"] == []
        assert {s["status"] for s in view["link_suggestions"]} == {"suggested"}
    assert [i["kind"] for i in (await _customer(http, attacker["customer_id"]))["identifiers"]] == ["phone"]
