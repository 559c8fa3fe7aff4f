"""The staff API of the identity service (JSON, bearer token; docs/api.md)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import msgspec
from litestar import Request, Response, Router, get, post
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import FromPath, FromQuery

from services.identity import views
from services.identity.merge import MergeError, MergeRecord, merge, unmerge
from services.identity.normalize import InvalidIdentifier, normalize_email, normalize_phone
from services.identity.store import decide_suggestions
from shared.auth import staff_guard
from shared.runtime import Runtime

STAFF_ACTOR = "staff"  # until staff accounts exist
MAX_REASON = 1000


def _runtime(request: Request) -> Runtime:
    return request.app.state.runtime


def _id(raw: str, what: str) -> UUID:
    try:
        return UUID(raw)
    except ValueError:
        raise NotFoundException(detail=f"unknown {what}") from None


def _small_int(raw: object) -> int | None:
    """A positive id from JSON or a path (digits, at most 18 of them), else None."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw if 0 < raw < 10**18 else None
    if isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) <= 18:
        return int(raw)
    return None


def _invalid(field: str, message: str) -> Response[dict[str, Any]]:
    return Response(
        {
            "status_code": 422,
            "detail": f"Validation failed: {field}",
            "errors": [{"field": field, "message": message}],
        },
        status_code=422,
    )


async def _json_object(request: Request, *, optional: bool = False) -> dict[str, Any]:
    raw = await request.body()
    if optional and not raw.strip():
        return {}
    try:
        data = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise HTTPException(status_code=400, detail=f"Malformed JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise HTTPException(status_code=400, detail="The JSON body must be an object")
    return data


def _reason(data: dict[str, Any], *, required: bool) -> str | Response[dict[str, Any]]:
    reason = data.get("reason")
    if reason is None and not required:
        return ""
    if not isinstance(reason, str) or not reason.strip():
        return _invalid("reason", "Say why (a non-empty text).")
    if len(reason) > MAX_REASON:
        return _invalid("reason", f"At most {MAX_REASON} characters.")
    return reason.strip()


@get("/customers/lookup")
async def lookup(request: Request, email: FromQuery[str | None] = None, phone: FromQuery[str | None] = None) -> Any:
    if (email is None) == (phone is None):
        raise HTTPException(status_code=400, detail="Give either email or phone")
    settings = _runtime(request).settings
    try:
        if email is not None:
            kind, value = "email", normalize_email(email)
        else:
            kind, value = "phone", normalize_phone(phone or "", default_region=settings.default_region)
    except InvalidIdentifier as exc:
        return _invalid(exc.field, f"Not a usable {exc.field}: {exc.reason}.")
    async with _runtime(request).pool.acquire() as conn:
        customer_id = await views.find_customer(conn, kind, value)
        view = await views.customer_view(conn, customer_id) if customer_id else None
    if view is None:
        raise NotFoundException(detail="no customer with this " + kind)
    return view


@get("/customers/{customer_id:str}")
async def customer(request: Request, customer_id: FromPath[str]) -> dict[str, Any]:
    async with _runtime(request).pool.acquire() as conn:
        view = await views.customer_view(conn, _id(customer_id, "customer"))
    if view is None:
        raise NotFoundException(detail="unknown customer")
    return view


@get("/conversations/{conversation_id:str}")
async def conversation(request: Request, conversation_id: FromPath[str]) -> dict[str, Any]:
    async with _runtime(request).pool.acquire() as conn:
        view = await views.conversation_view(conn, _id(conversation_id, "conversation"))
    if view is None:
        raise NotFoundException(detail="unknown conversation")
    return view


def _record(record: MergeRecord, moved_key: str) -> dict[str, Any]:
    return {
        "merge_id": record.merge_id,
        "source": record.source,
        "target": record.target,
        "actor": record.actor,
        "reason": record.reason,
        "at": record.at,
        moved_key: record.moved,
    }


@post("/customers/{customer_id:str}/merge", status_code=200)
async def merge_customer(request: Request, customer_id: FromPath[str]) -> Any:
    source = _id(customer_id, "customer")
    data = await _json_object(request)
    into = data.get("into")
    try:
        target = UUID(into) if isinstance(into, str) else None
    except ValueError:
        target = None
    if target is None:
        return _invalid("into", "The id of the customer to merge into.")
    reason = _reason(data, required=True)
    if isinstance(reason, Response):
        return reason
    try:
        async with _runtime(request).pool.acquire() as conn, conn.transaction():
            record = await merge(conn, source, target, actor=STAFF_ACTOR, reason=reason)
    except MergeError as exc:
        raise HTTPException(status_code=exc.status, detail=exc.detail) from exc
    return _record(record, "moved")


@post("/customers/{customer_id:str}/unmerge", status_code=200)
async def unmerge_customer(request: Request, customer_id: FromPath[str]) -> Any:
    customer_uuid = _id(customer_id, "customer")
    data = await _json_object(request, optional=True)
    merge_id = _small_int(data["merge_id"]) if data.get("merge_id") is not None else None
    if data.get("merge_id") is not None and merge_id is None:
        return _invalid("merge_id", "The id of the merge to undo.")
    reason = _reason(data, required=False)
    if isinstance(reason, Response):
        return reason
    try:
        async with _runtime(request).pool.acquire() as conn, conn.transaction():
            record = await unmerge(conn, customer_uuid, merge_id=merge_id, actor=STAFF_ACTOR, reason=reason)
    except MergeError as exc:
        raise HTTPException(status_code=exc.status, detail=exc.detail) from exc
    return _record(record, "restored")


@post("/link-suggestions/{suggestion_id:str}/reject", status_code=200)
async def reject_suggestion(request: Request, suggestion_id: FromPath[str]) -> Any:
    number = _small_int(suggestion_id)
    if number is None:
        raise NotFoundException(detail="unknown link suggestion")
    data = await _json_object(request, optional=True)
    reason = _reason(data, required=False)
    if isinstance(reason, Response):
        return reason
    async with _runtime(request).pool.acquire() as conn, conn.transaction():
        status = await conn.fetchval("SELECT status FROM link_suggestions WHERE id = $1 FOR UPDATE", number)
        if status is None:
            raise NotFoundException(detail="unknown link suggestion")
        if status != "suggested":
            raise HTTPException(status_code=409, detail=f"the suggestion is already {status}")
        await decide_suggestions(conn, [number], status="rejected", by=STAFF_ACTOR, reason=reason)
        await conn.execute(
            """INSERT INTO audit_log (actor, action, subject_type, subject_id, details)
               VALUES ($1, 'link_suggestion.reject', 'link_suggestion', $2, $3)""",
            STAFF_ACTOR,
            str(number),
            {"reason": reason},
        )
    return {"id": number, "status": "rejected", "decided_by": STAFF_ACTOR, "reason": reason}


def staff_router() -> Router:
    return Router(
        path="/",
        route_handlers=[lookup, customer, conversation, merge_customer, unmerge_customer, reject_suggestion],
        guards=[staff_guard],
        tags=["staff"],
    )
