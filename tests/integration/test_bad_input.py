"""Bad input gets a clear error and leaves no row and no event behind."""

from __future__ import annotations

import httpx
import pytest

from shared.bus import Bus
from subjects.streams import INBOUND
from tests.helpers import submission


async def _inbound_count(bus: Bus) -> int:
    return (await bus.js.stream_info(INBOUND.name)).state.messages


async def _ticket_count(stack: object) -> int:
    return await stack.runtime.pool.fetchval("SELECT count(*) FROM tickets")  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "A"),
        ("email", "not-an-email"),
        ("email", "ana@"),
        ("subject", "Hey"),
        ("message", "too short"),
        ("message", "x" * 5001),
        ("category", "sales"),
        ("phone", "call me maybe"),
        ("name", 42),
    ],
)
async def test_invalid_field_is_422_naming_the_field(
    http: httpx.AsyncClient, bus: Bus, stack: object, field: str, value: object
) -> None:
    before = (await _inbound_count(bus), await _ticket_count(stack))
    response = await http.post("/support/submit", json=submission(**{field: value}))
    assert response.status_code == 422, response.text
    body = response.json()
    assert [error["field"] for error in body["errors"]] == [field]
    assert field in body["detail"]
    assert (await _inbound_count(bus), await _ticket_count(stack)) == before


async def test_missing_fields_are_all_named(http: httpx.AsyncClient) -> None:
    response = await http.post("/support/submit", json={})
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {"name", "email", "subject", "message"}


async def test_html_form_errors_are_tied_to_fields(http: httpx.AsyncClient) -> None:
    response = await http.post("/support/submit", data=submission(email="nope"), headers={"Accept": "text/html"})
    assert response.status_code == 422
    assert 'id="email-error"' in response.text
    assert 'aria-invalid="true"' in response.text
    assert 'value="Password reset"' in response.text  # what the user typed is kept


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b'"just a string"', b""])
async def test_malformed_json_is_400(http: httpx.AsyncClient, bus: Bus, raw: bytes) -> None:
    before = await _inbound_count(bus)
    response = await http.post("/support/submit", content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert await _inbound_count(bus) == before


async def test_body_over_64_kib_is_413(http: httpx.AsyncClient, bus: Bus) -> None:
    before = await _inbound_count(bus)
    big = submission(message="x" * (65 * 1024))
    assert (await http.post("/support/submit", json=big)).status_code == 413
    assert (await http.post("/support/submit", data=big)).status_code == 413
    assert await _inbound_count(bus) == before


async def test_unsupported_media_type_is_415(http: httpx.AsyncClient) -> None:
    response = await http.post("/support/submit", content=b"name=x", headers={"Content-Type": "text/plain"})
    assert response.status_code == 415
