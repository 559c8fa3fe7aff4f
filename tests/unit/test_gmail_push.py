"""Pub/Sub push verification (OIDC tokens minted here, certificates served from a local endpoint) and the
push envelope."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from litestar import Litestar, Response, get

from services.fakes.oidc import OidcSigner
from services.ingress_gmail.push import (
    CachingRequest,
    CertificatesUnavailable,
    EnvelopeError,
    PushRejected,
    PushVerifier,
    bearer_token,
    decode_envelope,
)
from shared.serving import serve

AUDIENCE = "https://support.example.org/webhooks/gmail"
SERVICE_ACCOUNT = "gmail-push@project.iam.gserviceaccount.com"


@dataclass
class CertServer:
    url: str
    signer: OidcSigner
    fetches: list[float]


@pytest.fixture(scope="module")
async def certs() -> AsyncIterator[CertServer]:
    signer = OidcSigner()
    fetches: list[float] = []

    @get("/oauth2/v1/certs")
    async def serve_certs() -> Response[dict[str, str]]:
        fetches.append(time.monotonic())
        return Response(signer.certs(), headers={"Cache-Control": "public, max-age=300"})

    base, stop = await serve(Litestar([serve_certs]))
    yield CertServer(f"{base}/oauth2/v1/certs", signer, fetches)
    await stop()


def _verifier(certs: CertServer) -> PushVerifier:
    return PushVerifier(audience=AUDIENCE, service_account=SERVICE_ACCOUNT, certs_url=certs.url)


async def _verify(verifier: PushVerifier, header: str | None) -> object:
    return await asyncio.to_thread(verifier.verify, header)


async def test_a_token_from_our_subscription_is_accepted(certs: CertServer) -> None:
    token = certs.signer.mint(audience=AUDIENCE, email=SERVICE_ACCOUNT)
    claims = await _verify(_verifier(certs), f"Bearer {token}")
    assert claims["email"] == SERVICE_ACCOUNT  # type: ignore[index]


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("missing", "missing bearer token"),
        ("not_bearer", "missing bearer token"),
        ("wrong_audience", "wrong audience"),
        ("wrong_service_account", "unexpected service account"),
        ("email_unverified", "not verified"),
        ("email_verified_string", "not verified"),
        ("expired", "expired"),
        ("bad_signature", "invalid token"),
        ("unknown_key", "invalid token"),
        ("wrong_issuer", "unexpected issuer"),
        ("garbage", "invalid token"),
    ],
)
async def test_forged_or_wrong_tokens_are_rejected(certs: CertServer, case: str, reason: str) -> None:
    mint = certs.signer.mint
    impostor = OidcSigner(key_id=certs.signer.key_id)
    headers: dict[str, str | None] = {
        "missing": None,
        "not_bearer": "Basic " + base64.b64encode(b"user:pass").decode(),
        "wrong_audience": f"Bearer {mint(audience='https://evil.example/webhooks/gmail', email=SERVICE_ACCOUNT)}",
        "wrong_service_account": f"Bearer {mint(audience=AUDIENCE, email='someone@evil.iam.gserviceaccount.com')}",
        "email_unverified": f"Bearer {mint(audience=AUDIENCE, email=SERVICE_ACCOUNT, email_verified=False)}",
        "email_verified_string": f"Bearer {mint(audience=AUDIENCE, email=SERVICE_ACCOUNT, email_verified='true')}",
        "expired": f"Bearer {mint(audience=AUDIENCE, email=SERVICE_ACCOUNT, issued_at=time.time() - 7200)}",
        # Same key id, another key: the signature does not verify against the published certificate.
        "bad_signature": f"Bearer {impostor.mint(audience=AUDIENCE, email=SERVICE_ACCOUNT)}",
        "unknown_key": f"Bearer {OidcSigner().mint(audience=AUDIENCE, email=SERVICE_ACCOUNT)}",
        "wrong_issuer": f"Bearer {mint(audience=AUDIENCE, email=SERVICE_ACCOUNT, issuer='https://evil.example')}",
        "garbage": "Bearer not.a.jwt",
    }
    with pytest.raises(PushRejected, match=reason) as raised:
        await _verify(_verifier(certs), headers[case])
    assert "@" not in str(raised.value)  # the security log line never carries an address


async def test_certificates_are_fetched_once_within_their_max_age(certs: CertServer) -> None:
    verifier = _verifier(certs)
    before = len(certs.fetches)
    for _ in range(3):
        await _verify(verifier, f"Bearer {certs.signer.mint(audience=AUDIENCE, email=SERVICE_ACCOUNT)}")
    assert len(certs.fetches) - before == 1


async def test_unreachable_certificates_are_not_a_forgery() -> None:
    verifier = PushVerifier(
        audience=AUDIENCE,
        service_account=SERVICE_ACCOUNT,
        certs_url="http://127.0.0.1:9/oauth2/v1/certs",
        request=CachingRequest(timeout=2),
    )
    token = OidcSigner().mint(audience=AUDIENCE, email=SERVICE_ACCOUNT)
    with pytest.raises(CertificatesUnavailable):
        await _verify(verifier, f"Bearer {token}")


def test_a_verifier_needs_an_audience_and_a_service_account() -> None:
    with pytest.raises(ValueError):
        PushVerifier(audience="", service_account=SERVICE_ACCOUNT)
    with pytest.raises(ValueError):
        PushVerifier(audience=AUDIENCE, service_account="")


@pytest.mark.parametrize(
    ("header", "token"),
    [("Bearer abc.def.ghi", "abc.def.ghi"), ("bearer  xyz ", "xyz"), ("Bearer", None), ("", None), (None, None)],
)
def test_bearer_token(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token


def envelope(notification: object, *, encode: str = "std") -> bytes:
    raw = json.dumps(notification).encode()
    data = base64.urlsafe_b64encode(raw) if encode == "url" else base64.b64encode(raw)
    return json.dumps(
        {"message": {"data": data.decode(), "messageId": "136969346945"}, "subscription": "projects/p/subscriptions/s"}
    ).encode()


@pytest.mark.parametrize("history_id", [9876543210, "9876543210"])
@pytest.mark.parametrize("encode", ["std", "url"])
def test_the_gmail_notification_is_decoded(history_id: object, encode: str) -> None:
    found = decode_envelope(envelope({"emailAddress": "support@example.org", "historyId": history_id}, encode=encode))
    assert (found.email_address, found.history_id, found.pubsub_message_id) == (
        "support@example.org",
        9876543210,
        "136969346945",
    )


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b"{}",
        b'{"message": "x"}',
        b'{"message": {}}',
        b'{"message": {"data": "!!!not base64!!!"}}',
        json.dumps({"message": {"data": base64.b64encode(b"not json").decode()}}).encode(),
        json.dumps({"message": {"data": base64.b64encode(b"[1]").decode()}}).encode(),
        envelope({"historyId": 5}),
        envelope({"emailAddress": "support@example.org"}),
        envelope({"emailAddress": "support@example.org", "historyId": -3}),
        envelope({"emailAddress": "support@example.org", "historyId": "12abc"}),
        envelope({"emailAddress": "support@example.org", "historyId": True}),
        envelope({"emailAddress": "nobody", "historyId": 5}),
    ],
)
def test_malformed_envelopes_are_refused(body: bytes) -> None:
    with pytest.raises(EnvelopeError):
        decode_envelope(body)
