"""ingress-whatsapp routes. Until the Twilio integration lands they answer 501 Not Implemented."""

from __future__ import annotations

from litestar import Router, post
from litestar.exceptions import HTTPException

from shared.runtime import Runtime, ServiceParts


@post("/webhooks/whatsapp", status_code=204)
async def whatsapp_message() -> None:
    raise HTTPException(status_code=501, detail="The WhatsApp channel is not implemented yet")


@post("/webhooks/whatsapp/status", status_code=204)
async def whatsapp_status() -> None:
    raise HTTPException(status_code=501, detail="The WhatsApp channel is not implemented yet")


def build(runtime: Runtime) -> ServiceParts:
    return ServiceParts(
        name="ingress-whatsapp", routes=[Router(path="/", route_handlers=[whatsapp_message, whatsapp_status])]
    )
