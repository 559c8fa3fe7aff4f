"""Pub/Sub push requests: the OIDC bearer token Google signs, and the envelope with Gmail's notification.

Verification uses google-auth (``id_token.verify_token``: signature against Google's published certificates,
expiry, audience), then checks the issuer, the expected service-account email and ``email_verified``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import google.auth.exceptions
import google.auth.transport
import google.auth.transport.requests
from google.oauth2 import id_token

GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"
GOOGLE_ISSUERS = frozenset({"https://accounts.google.com", "accounts.google.com"})


class PushRejected(Exception):
    """The request does not prove it comes from our Pub/Sub subscription (answer 403). The message names the
    reason only, never a claim's value."""


class CertificatesUnavailable(Exception):
    """Google's certificates could not be fetched: we cannot tell, so Pub/Sub should retry (answer 503)."""


class EnvelopeError(ValueError):
    """The push body is not a Pub/Sub envelope carrying a Gmail notification (answer 400: retrying cannot help)."""


@dataclass(frozen=True)
class Notification:
    email_address: str
    history_id: int
    pubsub_message_id: str | None = None


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def decode_envelope(body: bytes) -> Notification:
    """``{"message": {"data": base64(json {emailAddress, historyId}), "messageId": ...}, "subscription": ...}``."""
    try:
        envelope = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EnvelopeError("the body is not JSON") from exc
    message = envelope.get("message") if isinstance(envelope, dict) else None
    if not isinstance(message, dict):
        raise EnvelopeError("no message object")
    data = message.get("data")
    if not isinstance(data, str) or not data.strip():
        raise EnvelopeError("no message.data")
    try:
        padded = data.strip() + "=" * (-len(data.strip()) % 4)
        decoded = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        notification = json.loads(decoded)
    except (binascii.Error, ValueError) as exc:
        raise EnvelopeError("message.data is not base64-encoded JSON") from exc
    if not isinstance(notification, dict):
        raise EnvelopeError("message.data is not a JSON object")
    address = notification.get("emailAddress")
    if not isinstance(address, str) or "@" not in address:
        raise EnvelopeError("no emailAddress in the notification")
    history_id = _history_id(notification.get("historyId"))
    pubsub_id = message.get("messageId") or message.get("message_id")
    return Notification(address.strip(), history_id, str(pubsub_id) if pubsub_id else None)


def _history_id(value: Any) -> int:
    if isinstance(value, bool):
        raise EnvelopeError("historyId must be a positive integer")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and re.fullmatch(r"\d{1,20}", value.strip()):
        number = int(value)
    else:
        raise EnvelopeError("historyId must be a positive integer")
    if number <= 0:
        raise EnvelopeError("historyId must be a positive integer")
    return number


class CachingRequest(google.auth.transport.Request):
    """A google-auth transport that keeps GET responses (the signing certificates) for their ``max-age``.

    ``verify_token`` fetches the certificates on every call; Google publishes them with a max-age of hours and
    rotates keys well ahead of use, so caching saves a round trip per push."""

    def __init__(
        self,
        inner: google.auth.transport.Request | None = None,
        *,
        default_ttl: float = 300.0,
        max_ttl: float = 6 * 3600.0,
        timeout: float = 10.0,
    ) -> None:
        self.inner = inner or google.auth.transport.requests.Request()
        self.default_ttl = default_ttl
        self.max_ttl = max_ttl
        self.timeout = timeout
        self._cache: dict[str, tuple[float, google.auth.transport.Response]] = {}
        self._lock = threading.Lock()

    def __call__(  # type: ignore[override]
        self,
        url: str,
        method: str = "GET",
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> google.auth.transport.Response:
        if method != "GET" or body is not None:
            return self.inner(url, method=method, body=body, headers=headers, timeout=timeout or self.timeout, **kwargs)
        with self._lock:
            cached = self._cache.get(url)
            if cached and cached[0] > time.monotonic():
                return cached[1]
            response = self.inner(url, method="GET", headers=headers, timeout=timeout or self.timeout, **kwargs)
            if response.status == 200:
                self._cache[url] = (time.monotonic() + self._ttl(response.headers), response)
            return response

    def _ttl(self, headers: Mapping[str, str]) -> float:
        control = next((v for k, v in headers.items() if k.lower() == "cache-control"), "")
        if "no-store" in control or "no-cache" in control:
            return 0.0
        match = re.search(r"max-age=(\d+)", control)
        return min(float(match.group(1)) if match else self.default_ttl, self.max_ttl)


class PushVerifier:
    """Checks the ``Authorization: Bearer`` OIDC token of a Pub/Sub push (synchronous: run it in a thread)."""

    def __init__(
        self,
        *,
        audience: str,
        service_account: str,
        certs_url: str | None = None,
        request: google.auth.transport.Request | None = None,
        clock_skew_seconds: int = 10,
    ) -> None:
        if not audience or not service_account:
            raise ValueError("a push audience and service account are required")
        self.audience = audience
        self.service_account = service_account.strip().lower()
        self.certs_url = certs_url or GOOGLE_CERTS_URL
        self.request = request or CachingRequest()
        self.clock_skew_seconds = clock_skew_seconds

    def verify(self, authorization: str | None) -> Mapping[str, Any]:
        token = bearer_token(authorization)
        if token is None:
            raise PushRejected("missing bearer token")
        try:
            claims = id_token.verify_token(
                token,
                self.request,
                audience=self.audience,
                certs_url=self.certs_url,
                clock_skew_in_seconds=self.clock_skew_seconds,
            )
        except google.auth.exceptions.TransportError as exc:
            raise CertificatesUnavailable(str(exc)) from exc
        except (ValueError, google.auth.exceptions.GoogleAuthError) as exc:
            raise PushRejected(f"invalid token ({_why(exc)})") from exc
        if claims.get("iss") not in GOOGLE_ISSUERS:
            raise PushRejected("unexpected issuer")
        email = claims.get("email")
        if not isinstance(email, str) or email.strip().lower() != self.service_account:
            raise PushRejected("unexpected service account")
        if claims.get("email_verified") is not True:
            raise PushRejected("service account email not verified")
        return claims


def _why(exc: Exception) -> str:
    """A short reason for the security log, without the token's claims."""
    text = str(exc).lower()
    for needle, reason in (
        ("expired", "expired"),
        ("too early", "not yet valid"),
        ("audience", "wrong audience"),
        ("signature", "bad signature"),
        ("certificate for key id", "unknown signing key"),
    ):
        if needle in text:
            return reason
    return type(exc).__name__
