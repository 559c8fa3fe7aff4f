"""Bearer-token guards for Litestar routes (the staff API until staff accounts exist)."""

from __future__ import annotations

import hmac
from collections.abc import Callable

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, ServiceUnavailableException
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard

from shared.runtime import Runtime


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (scheme case-insensitive), or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


def token_matches(given: str | None, expected: str) -> bool:
    """Constant-time comparison (as bytes, so that non-ASCII input cannot raise)."""
    if given is None:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def bearer_guard(expected_token: Callable[[ASGIConnection], str | None], *, what: str) -> Guard:
    """A guard that answers 503 "<what> disabled" when no token is configured, 401 when the
    request's bearer token is missing or wrong; ``what`` names the API in those answers."""

    def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
        expected = expected_token(connection)
        if not expected:
            raise ServiceUnavailableException(detail=f"{what} disabled")
        if not token_matches(bearer_token(connection.headers.get("authorization")), expected):
            raise NotAuthorizedException(
                detail="a valid bearer token is required", headers={"WWW-Authenticate": 'Bearer realm="fte"'}
            )

    return guard


def _staff_token(connection: ASGIConnection) -> str | None:
    runtime: Runtime = connection.app.state.runtime
    return runtime.settings.staff_token


# The staff endpoints: `Authorization: Bearer <FTE_STAFF_TOKEN>`.
staff_guard: Guard = bearer_guard(_staff_token, what="staff API")
