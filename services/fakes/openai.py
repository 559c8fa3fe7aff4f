"""A scripted OpenAI-compatible server for tests and local demos, spoken to by the real ``openai`` client.

``POST /v1/chat/completions`` answers from a script that the caller fills, one entry per request:

- ``{"response": {...}}``: 200 with that chat-completion object (see ``tool_calls_completion``);
- ``{"status": 429, "retry_after": "0"}``: that HTTP status with an OpenAI-style error body;
- ``{"hang": true}``: holds the request until the client gives up (or the server stops).

Any entry may add ``"delay": seconds`` (wait before answering) and ``"times": n`` (repeat). When the
script is empty the ``default`` entry answers; without one the server answers 400 "script exhausted".
``POST /v1/embeddings`` returns deterministic unit vectors derived from a hash of each input, of the
requested ``dimensions``, as floats or base64; a scripted entry (``{"status": 503}`` or
``{"dimension": 12}``) overrides the next call. Every request body is recorded.

Admin endpoints: ``POST /_fake/chat/script`` ``{"entries": [...], "default": entry|null}``,
``POST /_fake/embeddings/script`` ``{"entries": [...]}``, ``GET /_fake/chat/requests``,
``GET /_fake/embeddings/requests``, ``POST /_fake/reset``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import itertools
import json
import math
import random
import struct
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from litestar import Litestar, Request, Response, get, post

from services.fakes import RunningFake
from shared.serving import serve

DEFAULT_EMBEDDING_DIMENSION = 1536
MAX_HOLD_SECONDS = 120.0
_call_ids = itertools.count(1)


@dataclass
class FakeOpenAIState:
    api_key: str
    chat_script: deque[dict[str, Any]] = field(default_factory=deque)
    chat_default: dict[str, Any] | None = None
    embedding_script: deque[dict[str, Any]] = field(default_factory=deque)
    chat_requests: list[dict[str, Any]] = field(default_factory=list)
    embedding_requests: list[dict[str, Any]] = field(default_factory=list)
    #: Set when the server stops, so held requests end at once.
    released: asyncio.Event = field(default_factory=asyncio.Event)

    def push_chat(self, *entries: dict[str, Any], default: dict[str, Any] | None = None) -> None:
        for entry in entries:
            self.chat_script.extend([entry] * int(entry.get("times", 1)))
        if default is not None:
            self.chat_default = default

    def push_embeddings(self, *entries: dict[str, Any]) -> None:
        for entry in entries:
            self.embedding_script.extend([entry] * int(entry.get("times", 1)))

    def reset(self) -> None:
        self.chat_script.clear()
        self.embedding_script.clear()
        self.chat_default = None
        self.chat_requests.clear()
        self.embedding_requests.clear()


# Builders of scripted responses (plain dicts, so they also travel through the admin endpoints).


def tool_calls_completion(
    *calls: tuple[str, dict[str, Any] | str], tokens: int = 40, model: str = "fake-model"
) -> dict[str, Any]:
    """A chat completion whose assistant message calls ``calls`` (arguments as a dict, or raw text)."""
    tool_calls = [
        {
            "id": f"call_{next(_call_ids)}",
            "type": "function",
            "function": {"name": name, "arguments": args if isinstance(args, str) else json.dumps(args)},
        }
        for name, args in calls
    ]
    return _completion({"role": "assistant", "content": None, "tool_calls": tool_calls}, "tool_calls", tokens, model)


def text_completion(text: str, *, tokens: int = 40, model: str = "fake-model") -> dict[str, Any]:
    return _completion({"role": "assistant", "content": text}, "stop", tokens, model)


def _completion(message: dict[str, Any], finish: str, tokens: int, model: str) -> dict[str, Any]:
    prompt = tokens * 3 // 4
    return {
        "id": f"chatcmpl-{next(_call_ids)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": tokens - prompt, "total_tokens": tokens},
    }


def fake_embedding(text: str, dimension: int) -> list[float]:
    """A deterministic unit vector for ``text``."""
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")
    rng = random.Random(seed)
    vector = [rng.gauss(0.0, 1.0) for _ in range(dimension)]
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


# HTTP


def _state(request: Request) -> FakeOpenAIState:
    return request.app.state.fake


def _error(status: int, message: str, *, headers: dict[str, str] | None = None) -> Response[dict[str, Any]]:
    kind = "rate_limit_error" if status == 429 else "invalid_request_error" if status < 500 else "server_error"
    body = {"error": {"message": message, "type": kind, "param": None, "code": None}}
    return Response(body, status_code=status, headers=headers)


def _unauthorised(request: Request) -> Response[dict[str, Any]] | None:
    if request.headers.get("authorization") != f"Bearer {_state(request).api_key}":
        return _error(401, "Incorrect API key provided.")
    return None


async def _authorised_body(request: Request) -> tuple[Any, Response[dict[str, Any]] | None]:
    """The request's JSON body, or the refusal to send instead (bad key, not JSON)."""
    if (denied := _unauthorised(request)) is not None:
        return None, denied
    try:
        return await request.json(), None
    except Exception:
        return None, _error(400, "The body must be JSON.")


async def _hold(request: Request, seconds: float) -> None:
    """Wait ``seconds``, or less if the client disconnects or the server stops."""
    disconnected = asyncio.ensure_future(_disconnect(request))
    released = asyncio.ensure_future(_state(request).released.wait())
    try:
        await asyncio.wait({disconnected, released}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (disconnected, released):
            task.cancel()


async def _disconnect(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


@post("/v1/chat/completions", status_code=200)
async def chat_completions(request: Request) -> Response[Any]:
    body, refused = await _authorised_body(request)
    if refused is not None:
        return refused
    state = _state(request)
    state.chat_requests.append(body)
    if not isinstance(body, dict) or not body.get("model") or not isinstance(body.get("messages"), list):
        return _error(400, "'model' and 'messages' are required.")
    entry = state.chat_script.popleft() if state.chat_script else state.chat_default
    if entry is None:
        return _error(400, "fake openai: script exhausted")
    return await _scripted(request, entry)


async def _scripted(request: Request, entry: dict[str, Any]) -> Response[Any]:
    if entry.get("delay"):
        await _hold(request, float(entry["delay"]))
    if entry.get("hang"):
        await _hold(request, MAX_HOLD_SECONDS)
        return _error(504, "fake openai: held request released")
    if "status" in entry:
        headers = {"retry-after": str(entry["retry_after"])} if "retry_after" in entry else None
        return _error(int(entry["status"]), entry.get("message", "scripted failure"), headers=headers)
    return Response(entry["response"], status_code=200)


@post("/v1/embeddings", status_code=200)
async def embeddings(request: Request) -> Response[Any]:
    body, refused = await _authorised_body(request)
    if refused is not None:
        return refused
    state = _state(request)
    state.embedding_requests.append(body)
    raw = body.get("input") if isinstance(body, dict) else None
    inputs = [raw] if isinstance(raw, str) else raw
    if not isinstance(inputs, list) or not inputs or not all(isinstance(t, str) and t for t in inputs):
        return _error(400, "'input' must be a non-empty string or a list of non-empty strings.")
    dimension = body.get("dimensions") or DEFAULT_EMBEDDING_DIMENSION
    entry = state.embedding_script.popleft() if state.embedding_script else {}
    if "status" in entry:
        return await _scripted(request, entry)
    dimension = int(entry.get("dimension", dimension))
    as_base64 = body.get("encoding_format") == "base64"
    data = [
        {"object": "embedding", "index": i, "embedding": _encode(fake_embedding(text, dimension), as_base64)}
        for i, text in enumerate(inputs)
    ]
    tokens = sum(len(text.split()) for text in inputs)
    usage = {"prompt_tokens": tokens, "total_tokens": tokens}
    return Response({"object": "list", "data": data, "model": body.get("model"), "usage": usage})


def _encode(vector: list[float], as_base64: bool) -> list[float] | str:
    if not as_base64:
        return vector
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


@post("/_fake/chat/script", status_code=204)
async def push_chat(request: Request) -> None:
    body = await request.json()
    _state(request).push_chat(*body.get("entries", []), default=body.get("default"))


@post("/_fake/embeddings/script", status_code=204)
async def push_embeddings(request: Request) -> None:
    body = await request.json()
    _state(request).push_embeddings(*body.get("entries", []))


@get("/_fake/chat/requests")
async def chat_requests(request: Request) -> list[dict[str, Any]]:
    return _state(request).chat_requests


@get("/_fake/embeddings/requests")
async def embedding_requests(request: Request) -> list[dict[str, Any]]:
    return _state(request).embedding_requests


@post("/_fake/reset", status_code=204)
async def reset(request: Request) -> None:
    _state(request).reset()


def build_app(state: FakeOpenAIState) -> Litestar:
    app = Litestar(
        [chat_completions, embeddings, push_chat, push_embeddings, chat_requests, embedding_requests, reset],
        openapi_config=None,
    )
    app.state.fake = state
    return app


async def start_fake_openai(host: str = "127.0.0.1", *, api_key: str = "test-key") -> RunningFake:
    """The scripted server on a free port; ``env`` points OPENAI_BASE_URL and OPENAI_API_KEY at it."""
    state = FakeOpenAIState(api_key=api_key)
    base_url, stop_server = await serve(build_app(state), host=host)

    async def stop() -> None:
        state.released.set()
        with contextlib.suppress(Exception):
            await stop_server()

    env = {"OPENAI_BASE_URL": base_url + "/v1", "OPENAI_API_KEY": api_key}
    return RunningFake(name="openai", base_url=base_url, env=env, stop=stop, state=state)
