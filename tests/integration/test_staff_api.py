"""The staff API: bearer token, lookups in any format, the views, and clear errors."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.identity.service import build as build_identity
from shared.bus import Bus
from shared.http import build_app
from shared.runtime import Runtime, ServiceGroup
from shared.serving import serve
from tests.helpers import submission, unique_email
from tests.integration.identity_support import STAFF, national, resolved, send, unique_phone, whatsapp_event

STAFF_PATHS = [
    ("GET", "/customers/lookup?email=a@example.com"),
    ("GET", f"/customers/{uuid.uuid4()}"),
    ("GET", f"/conversations/{uuid.uuid4()}"),
    ("POST", f"/customers/{uuid.uuid4()}/merge"),
    ("POST", f"/customers/{uuid.uuid4()}/unmerge"),
    ("POST", "/link-suggestions/1/reject"),
]


@pytest.mark.parametrize(("method", "path"), STAFF_PATHS)
@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", "Bearer test-staff-token-and-more", "Basic dGVzdC1zdGFmZi10b2tlbg==", "Bearer"],
)
async def test_every_staff_endpoint_needs_the_bearer_token(
    http: httpx.AsyncClient, method: str, path: str, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = await http.request(method, path, headers=headers, json={})
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_the_token_scheme_is_case_insensitive(http: httpx.AsyncClient) -> None:
    response = await http.get(f"/customers/{uuid.uuid4()}", headers={"Authorization": "bearer test-staff-token"})
    assert response.status_code == 404


@pytest.fixture
async def staff_disabled(stack: object) -> AsyncIterator[str]:
    """The identity service's routes served over HTTP by a process whose FTE_STAFF_TOKEN is unset."""
    runtime: Runtime = stack.runtime  # type: ignore[attr-defined]
    settings = dataclasses.replace(runtime.settings, staff_token=None)
    disabled = Runtime(settings=settings, bus=runtime.bus, pool=runtime.pool)
    parts = [build_identity(disabled)]  # its worker is never started
    base_url, stop = await serve(build_app(disabled, ServiceGroup(disabled, []), parts))
    yield base_url
    await stop()


@pytest.mark.parametrize(("method", "path"), STAFF_PATHS)
async def test_without_a_configured_token_the_staff_api_is_503(staff_disabled: str, method: str, path: str) -> None:
    async with httpx.AsyncClient(base_url=staff_disabled) as client:
        response = await client.request(method, path, headers=STAFF, json={})
    assert response.status_code == 503
    assert response.json()["detail"] == "staff API disabled"


async def test_lookup_finds_the_customer_by_any_format_of_the_phone_or_the_address(
    http: httpx.AsyncClient, stack: object
) -> None:
    pool = stack.runtime.pool  # type: ignore[attr-defined]
    email, phone = unique_email("lookup"), unique_phone()
    response = await http.post("/support/submit", json=submission(email=email, phone=phone))
    record = await resolved(pool, f"web:{response.json()['ticket_id']}")
    digits = phone[2:]
    formats = [
        phone,
        f"whatsapp:{phone}",
        national(phone),
        f"{digits[:3]}-{digits[3:6]}-{digits[6:]}",
        f"+1 {digits[:3]} {digits[3:6]} {digits[6:]}",
        f"001.{digits[:3]}.{digits[3:6]}.{digits[6:]}",
    ]
    for raw in formats:
        found = await http.get("/customers/lookup", params={"phone": raw}, headers=STAFF)
        assert found.status_code == 200, (raw, found.text)
        assert found.json()["id"] == str(record["customer_id"])
    for raw in (email.upper(), f"  {email} ", f"Ana <{email}>"):
        found = await http.get("/customers/lookup", params={"email": raw}, headers=STAFF)
        assert found.json()["id"] == str(record["customer_id"]), raw


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({}, 400, None),
        ({"email": "a@example.com", "phone": "+14155550100"}, 400, None),
        ({"email": "not-an-email"}, 422, "email"),
        ({"email": ""}, 422, "email"),
        ({"phone": "call me maybe"}, 422, "phone"),
        ({"phone": "12"}, 422, "phone"),
        ({"email": "nobody-here@example.com"}, 404, None),
        ({"phone": "+44 7700 900999"}, 404, None),
    ],
)
async def test_lookup_errors(http: httpx.AsyncClient, params: dict[str, str], status: int, field: str | None) -> None:
    response = await http.get("/customers/lookup", params=params, headers=STAFF)
    assert response.status_code == status, response.text
    if field:
        body = response.json()
        assert [e["field"] for e in body["errors"]] == [field]
        assert field in body["detail"]


async def test_unknown_ids_are_404(http: httpx.AsyncClient) -> None:
    for path in (
        f"/customers/{uuid.uuid4()}",
        "/customers/not-a-uuid",
        f"/conversations/{uuid.uuid4()}",
        "/conversations/x",
    ):
        assert (await http.get(path, headers=STAFF)).status_code == 404, path


async def test_the_conversation_shows_messages_in_order_with_their_channel(
    http: httpx.AsyncClient, bus: Bus, stack: object
) -> None:
    pool = stack.runtime.pool  # type: ignore[attr-defined]
    email, phone = unique_email("view"), unique_phone()
    response = await http.post("/support/submit", json=submission(email=email, phone=phone))
    web = await resolved(pool, f"web:{response.json()['ticket_id']}")
    await send(bus, pool, whatsapp_event(phone, "One more thing: can I export to CSV?"))
    view = (await http.get(f"/conversations/{web['conversation_id']}", headers=STAFF)).json()
    inbound = [m for m in view["messages"] if m["direction"] == "inbound"]
    assert [(m["channel"], m["role"]) for m in inbound] == [("web", "customer"), ("whatsapp", "customer")]
    times = [m["created_at"] for m in view["messages"]]
    assert times == sorted(times)
    assert [(s["from"], s["to"]) for s in view["channel_switches"]] == [("web", "whatsapp")]
    assert view["customer_id"] == str(web["customer_id"])


async def test_identifiers_in_a_lookup_never_reach_the_spans(
    http: httpx.AsyncClient, spans: InMemorySpanExporter
) -> None:
    email = unique_email("secret")
    await http.get("/customers/lookup", params={"email": email}, headers=STAFF)
    await http.get("/customers/lookup", params={"phone": "+1 415 555 0123"}, headers=STAFF)
    dumped = json.dumps([dict(s.attributes or {}) for s in spans.get_finished_spans()], default=str)
    assert "/customers/lookup" in dumped
    assert email not in dumped and email.split("@")[0] not in dumped
    assert "555 0123" not in dumped and "5550123" not in dumped
