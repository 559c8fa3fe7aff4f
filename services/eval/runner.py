"""`fte eval DIR [--json FILE]`: a fresh stack, the company's knowledge base, every ticket, the figures.

The stack runs in its own process (`fte up --no-demo` on a temporary data dir), as in production. The provider
stand-ins (fake Twilio and Gmail), when they exist, run in this process and the stack is pointed at them through
its environment: this process then knows their credentials and can send as a customer would (signed webhooks).
Exit code 0 whenever the evaluation ran, whatever the scores; 2 for an unusable folder, 1 when the stack or its
servers could not be started.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import asyncpg
import httpx
import nats

from services.agent.embeddings import shared_embedder
from services.agent.kb import IngestReport, collect_documents, ingest, source_of
from services.bench_e2e import RunningStack
from services.eval.customers import Customer, assign_customers
from services.eval.dataset import Dataset, DatasetError, Ticket, load_dataset
from services.eval.metrics import Scores, score
from services.eval.outcomes import collect_outcomes
from services.eval.records import Outcome
from services.eval.report import RunInfo, render_text, write_json
from services.eval.sending import Sent, TicketSender, send_paced
from services.fakes import RunningFake
from shared.bus import Bus
from shared.db import create_pool
from shared.logging import configure_logging
from shared.settings import Settings

WARM_UP = Ticket(
    id="warm-up",
    channel="web",
    customer_name="Warm Up",
    customer_email="eval-warm-up@example.com",
    customer_phone=None,
    subject="Getting started",
    message="Hello, how do I get started?",
)


def _say(line: str) -> None:
    print(f"fte eval: {line}", flush=True)


async def run(args: argparse.Namespace) -> int:
    try:
        dataset = load_dataset(args.dir)
    except (DatasetError, OSError) as exc:
        _say(f"cannot evaluate {args.dir}: {exc}")
        return 2
    for warning in dataset.warnings:
        _say(f"warning: {warning}")
    temp: Path | None = None
    if args.data_dir:
        base = Path(args.data_dir)
    else:
        base = temp = Path(tempfile.mkdtemp(prefix="fte-eval"))
    try:
        return await _evaluate(dataset, base / "data", args)
    finally:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)


async def _evaluate(dataset: Dataset, data_dir: Path, args: argparse.Namespace) -> int:
    began = time.monotonic()
    stack = RunningStack(data_dir, args=["--no-demo"])
    async with _fakes(stack.base) as fakes:
        stack.env.update({"FTE_PUBLIC_BASE_URL": stack.base, **{k: v for f in fakes for k, v in f.env.items()}})
        _say(f"starting a fresh stack in {data_dir} ...")
        try:
            await asyncio.to_thread(stack.start)
        except (RuntimeError, OSError) as exc:
            _say(f"the stack did not start: {exc}")
            return 1
        try:
            settings = Settings.from_env({**os.environ, **stack.env})
            info, scores = await _run_tickets(dataset, stack, settings, args, simulate=bool(fakes), began=began)
        except (OSError, asyncpg.PostgresError, nats.errors.Error) as exc:
            _say(f"the evaluation could not run against the stack: {type(exc).__name__}: {exc}")
            return 1
        finally:
            await asyncio.to_thread(stack.stop)
    print(render_text(info, scores), flush=True)
    if args.json_path:
        write_json(args.json_path, info, scores)
        _say(f"JSON report written to {args.json_path}")
    return 0


async def _run_tickets(
    dataset: Dataset,
    stack: RunningStack,
    settings: Settings,
    args: argparse.Namespace,
    *,
    simulate: bool,
    began: float,
) -> tuple[RunInfo, Scores]:
    pool = await create_pool(stack.database_url, max_size=4)
    bus = await Bus.connect(stack.nats_url, name="fte-eval")
    try:
        kb = await load_knowledge_base(pool, dataset, settings)
        _say(f"knowledge base: {kb.chunks} sections from {len(dataset.kb_files)} files ({kb.embedded} embedded)")
        customers = assign_customers(dataset.tickets, default_region=settings.default_region)
        async with httpx.AsyncClient(base_url=stack.base, timeout=30) as client:
            sender = TicketSender(client, bus, settings, simulate=simulate)
            await _warm_up(pool, sender, args.timeout)
            routes = {ch: sender.route(ch) for ch in sorted({t.channel for t in dataset.tickets})}
            _say(f"sending {len(dataset.tickets)} tickets at {args.rate:g}/s ({_routes(routes)}) ...")
            pairs: Sequence[tuple[Ticket, Customer]] = [(t, customers[t.id]) for t in dataset.tickets]
            sent = await send_paced(sender, pairs, rate=args.rate)
            _say(f"waiting for the outcomes (at most {args.timeout:g} s per ticket) ...")
            outcomes = await collect_outcomes(pool, sent, timeout=args.timeout)
        info = RunInfo(
            dataset=str(dataset.root),
            kb_files=len(dataset.kb_files),
            kb_sections=kb.chunks,
            channels=dict(Counter(t.channel for t in dataset.tickets)),
            routes=routes,
            timeout_s=args.timeout,
            rate=args.rate,
            duration_s=time.monotonic() - began,
            skipped=tuple((s.id, s.reason) for s in dataset.skipped),
            notes=tuple(sender.notes) + _stack_tail(stack, outcomes),
        )
        return info, score(outcomes, timeout=args.timeout)
    finally:
        await bus.close()
        await pool.close()


async def load_knowledge_base(pool: asyncpg.Pool, dataset: Dataset, settings: Settings) -> IngestReport:
    """The folder's knowledge base into the stack's store, exactly as `fte kb ingest` loads (and embeds) it."""
    documents = [
        dataclasses.replace(doc, name=path.relative_to(dataset.root).as_posix())
        for path in dataset.kb_files
        for doc in collect_documents([path])
    ]
    return await ingest(pool, documents, source=source_of(dataset.root), embedder=shared_embedder(settings))


async def _warm_up(pool: asyncpg.Pool, sender: TicketSender, timeout: float) -> None:
    """One question first, left out of the figures, so that the first ticket does not pay for cold caches."""
    customer = Customer(WARM_UP.customer_name, WARM_UP.customer_email, None)
    sent: list[Sent] = [await sender.send(WARM_UP, customer)]
    if sent[0].error is None:
        await collect_outcomes(pool, sent, timeout=timeout)


def _stack_tail(stack: RunningStack, outcomes: Sequence[Outcome], lines: int = 12) -> tuple[str, ...]:
    """When tickets got no outcome, the stack's last output lines usually say why."""
    if not any(o.sent and o.escalated is None for o in outcomes):
        return ()
    tail = list(stack.output)[-lines:]
    return ("some tickets got no outcome; the stack's last output lines:", *(f"  | {line}" for line in tail))


def _routes(routes: dict[str, str]) -> str:
    return ", ".join(f"{channel} via {route}" for channel, route in routes.items())


@contextlib.asynccontextmanager
async def _fakes(webhook_base_url: str) -> AsyncIterator[list[RunningFake]]:
    """The provider stand-ins, pointed at the stack's webhooks; none when they are not part of this build."""
    try:
        from services.fakes.launch import start_all
    except ImportError:
        yield []
        return
    try:
        fakes = await start_all(public_base_url=webhook_base_url)
    except ImportError:
        fakes = []
    # A stand-in's web framework may have configured logging for itself: keep this command's output quiet.
    configure_logging("WARNING", os.environ.get("FTE_LOG_FORMAT") or "console")
    try:
        yield fakes
    finally:
        for fake in fakes:
            if fake.stop:
                with contextlib.suppress(Exception):
                    await fake.stop()
