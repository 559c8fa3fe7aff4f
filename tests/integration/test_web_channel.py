"""The web channel end to end through the running mesh, over real HTTP."""

from __future__ import annotations

import httpx

from tests.helpers import eventually, submission


async def _ticket(http: httpx.AsyncClient, ticket_id: str) -> dict:
    response = await http.get(f"/support/ticket/{ticket_id}", headers={"Accept": "application/json"})
    assert response.status_code == 200, response.text
    return response.json()


async def test_form_submission_gets_a_grounded_reply(http: httpx.AsyncClient) -> None:
    response = await http.post("/support/submit", json=submission())
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status_url"] == f"/support/ticket/{body['ticket_id']}"
    assert response.headers["location"] == body["status_url"]
    assert len(body["ticket_id"]) >= 22  # 16 random bytes, url-safe

    async def answered() -> dict | None:
        ticket = await _ticket(http, body["ticket_id"])
        return ticket if ticket["status"] == "answered" else None

    ticket = await eventually(answered, timeout=30)  # the first answer may wait for the embedding model
    roles = [m["role"] for m in ticket["messages"]]
    assert roles == ["customer", "agent"]
    reply = ticket["messages"][1]["content"]
    assert "Forgot password" in reply
    assert "Source: Account and Login > Reset a forgotten password" in reply
    assert all(m["channel"] == "web" for m in ticket["messages"])


async def test_form_encoded_submission_answers_201_with_the_status_page(http: httpx.AsyncClient) -> None:
    data = submission(message="<script>alert(1)</script> How do I connect Slack to my workspace?")
    response = await http.post("/support/submit", data=data, headers={"Accept": "text/html"})
    assert response.status_code == 201
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["location"].startswith("/support/ticket/")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text
    assert "<script>alert(1)</script>" not in response.text
    page = await http.get(response.headers["location"], headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert 'id="ticket-status"' in page.text


async def test_the_form_page_is_served_with_labels(http: httpx.AsyncClient) -> None:
    page = await http.get("/")
    assert page.status_code == 200
    for field in ("name", "email", "phone", "subject", "category", "message"):
        assert f'for="{field}"' in page.text
    assert (await http.get("/static/style.css")).status_code == 200


async def test_unknown_ticket_is_404(http: httpx.AsyncClient) -> None:
    missing = await http.get("/support/ticket/AAAAAAAAAAAAAAAAAAAAAA", headers={"Accept": "application/json"})
    assert missing.status_code == 404
    malformed = await http.get("/support/ticket/..%2Fetc", headers={"Accept": "application/json"})
    assert malformed.status_code == 404
    html = await http.get("/support/ticket/AAAAAAAAAAAAAAAAAAAAAA", headers={"Accept": "text/html"})
    assert html.status_code == 404 and "text/html" in html.headers["content-type"]


async def test_health_ready_and_channel_metrics(http: httpx.AsyncClient) -> None:
    assert (await http.get("/health")).json()["status"] == "ok"
    ready = await http.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"nats": True, "database": True}
    assert ready.json()["channels"]["web"]["enabled"] is True
    await http.post("/support/submit", json=submission())

    async def counted() -> dict | None:
        metrics = (await http.get("/metrics/channels")).json()["channels"]["web"]
        return metrics if metrics["messages_in"] >= 1 and metrics["replies"] >= 1 else None

    web = await eventually(counted)
    assert web["enabled"] is True
    prometheus = await http.get("/metrics")
    assert "fte_messages_handled_total" in prometheus.text

