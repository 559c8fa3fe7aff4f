"""ingress-gmail routes. Until the Gmail integration lands they answer 501 Not Implemented."""

from __future__ import annotations

from litestar import Router, post
from litestar.exceptions import HTTPException

from shared.runtime import Runtime, ServiceParts


@post("/webhooks/gmail", status_code=204)
async def gmail_push() -> None:
    raise HTTPException(status_code=501, detail="The Gmail channel is not implemented yet")


def build(runtime: Runtime) -> ServiceParts:
    return ServiceParts(name="ingress-gmail", routes=[Router(path="/", route_handlers=[gmail_push])])
