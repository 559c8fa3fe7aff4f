"""The `fte` command line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import sys
from pathlib import Path

from services.registry import SERVICE_NAMES
from shared.logging import configure_logging
from shared.settings import Settings
from shared.telemetry import configure_tracing, shutdown_tracing


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fte", description="The Customer Success mesh")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="run all seven services in one process (embedded servers if needed)")
    up.add_argument("--host", default=None, help="HTTP address (default 127.0.0.1 or FTE_HOST)")
    up.add_argument("--port", type=int, default=None, help="HTTP port (default 8000 or FTE_PORT)")
    up.add_argument("--data-dir", type=Path, default=None, help="where embedded servers keep data (.fte)")
    up.add_argument("--no-demo", action="store_true", help="do not load the demo knowledge base")
    up.add_argument(
        "--fake-providers",
        action="store_true",
        help="start local stand-ins for Twilio and Gmail (a full local demo of all three channels)",
    )

    service = sub.add_parser("service", help="run one service against NATS_URL and DATABASE_URL")
    service.add_argument("name", choices=SERVICE_NAMES)
    service.add_argument("--host", default=None)
    service.add_argument("--port", type=int, default=None)

    sub.add_parser("migrate", help="apply database migrations (idempotent)")
    provision = sub.add_parser("provision", help="create or update streams and consumers (idempotent)")
    provision.add_argument("--replicas", type=int, default=1)

    kb = sub.add_parser("kb", help="the knowledge base")
    kb_sub = kb.add_subparsers(dest="kb_command", required=True)
    ingest = kb_sub.add_parser("ingest", help="load Markdown, text and HTML files or folders")
    ingest.add_argument("paths", nargs="+", type=Path)
    ingest.add_argument("--data-dir", type=Path, default=None)
    search = kb_sub.add_parser("search", help="print the ranked hits for a query")
    search.add_argument("query")
    search.add_argument("--data-dir", type=Path, default=None)
    search.add_argument("--limit", type=int, default=5)

    simulate = sub.add_parser("simulate", help="send customer traffic to a running stack")
    simulate.add_argument("--url", default="http://127.0.0.1:8000", help="base URL of the running stack")
    simulate.add_argument("--channel", choices=["web", "whatsapp", "email", "mixed"], default="web")
    simulate.add_argument("--from", dest="sender", default=None, help="email address or phone number")
    simulate.add_argument("--name", default="Sam Customer")
    simulate.add_argument("--subject", default="A question")
    simulate.add_argument("--text", default=None)
    simulate.add_argument("--rate", type=float, default=2.0, help="messages per second (with --count)")
    simulate.add_argument("--count", type=int, default=1)
    simulate.add_argument("--seed", type=int, default=1)

    dlq = sub.add_parser("dlq", help="dead letters (against NATS_URL)")
    dlq_sub = dlq.add_subparsers(dest="dlq_command", required=True)
    dlq_list = dlq_sub.add_parser("list", help="the newest dead letters with their reason")
    dlq_list.add_argument("--limit", type=int, default=20)
    dlq_replay = dlq_sub.add_parser("replay", help="publish a dead letter again on its original subject")
    dlq_replay.add_argument("sequence", type=int)

    bench = sub.add_parser("bench", help="benchmarks")
    bench_sub = bench.add_subparsers(dest="bench_command", required=True)
    e2e = bench_sub.add_parser("e2e", help="web submissions through a fresh embedded stack")
    e2e.add_argument("--rate", type=float, default=50.0, help="submissions per second")
    e2e.add_argument("--seconds", type=float, default=20.0, help="length of the fixed-rate phases")
    e2e.add_argument("--submit-rate", type=float, default=200.0, help="rate of the submit-only phase")
    e2e.add_argument("--burst", type=int, default=1000, help="submissions of the throughput phase")
    e2e.add_argument(
        "--layout",
        choices=["one-process", "processes"],
        default="one-process",
        help="`fte up` (all services in one process) or one `fte service` process per service",
    )
    e2e.add_argument("--data-dir", type=Path, default=None)
    identity = bench_sub.add_parser("identity", help="customers across three channels over 7 simulated days")
    identity.add_argument("--customers", type=int, default=500, help="people to generate")
    identity.add_argument("--concurrency", type=int, default=100, help="people writing at the same time")
    identity.add_argument("--seed", type=int, default=7)
    identity.add_argument("--data-dir", type=Path, default=None)

    evaluate = sub.add_parser("eval", help="score the agent on a company's folder of labelled tickets")
    evaluate.add_argument("dir", type=Path, help="knowledge base (.md) and sample-tickets.json")
    evaluate.add_argument("--json", dest="json_path", type=Path, default=None, help="also write the report here")
    evaluate.add_argument("--rate", type=float, default=10.0, help="tickets sent per second")
    evaluate.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for each ticket's outcome")
    evaluate.add_argument("--data-dir", type=Path, default=None, help="keep the stack's data here (default: removed)")
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings.from_env()
    changes = {}
    if getattr(args, "host", None):
        changes["host"] = args.host
    if getattr(args, "port", None):
        changes["port"] = args.port
    if getattr(args, "data_dir", None):
        changes["data_dir"] = args.data_dir
    return dataclasses.replace(settings, **changes)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = _settings(args)
    interactive = args.command in ("up", "kb", "bench", "migrate", "provision", "dlq", "simulate", "eval")
    log_format = os.environ.get("FTE_LOG_FORMAT") or ("console" if interactive else "json")
    configure_logging(settings.log_level if args.command == "service" else "WARNING", log_format)
    if args.command == "up":
        return asyncio.run(_up(settings, demo=not args.no_demo, fake_providers=args.fake_providers))
    if args.command == "service":
        return asyncio.run(_service(settings, args.name))
    if args.command == "migrate":
        return asyncio.run(_migrate(settings))
    if args.command == "provision":
        return asyncio.run(_provision(settings, args.replicas))
    if args.command == "kb":
        from services.agent import kb_cli

        return asyncio.run(kb_cli.run(args, settings))
    if args.command == "simulate":
        from services import simulate

        return asyncio.run(simulate.run(args, settings))
    if args.command == "dlq":
        from services import dlq_cli

        return asyncio.run(dlq_cli.run(args, _require(settings.nats_url, "NATS_URL")))
    if args.command == "bench" and args.bench_command == "identity":
        from services import bench_identity

        return asyncio.run(bench_identity.run(args))
    if args.command == "bench":
        from services import bench_e2e

        return asyncio.run(bench_e2e.run(args))
    if args.command == "eval":
        from services.eval import runner

        return asyncio.run(runner.run(args))
    return 2


def _say(line: str) -> None:
    print(f"fte: {line}", flush=True)


async def _run_until_signalled(stack_start, stack_stop, say=None) -> int:  # type: ignore[no-untyped-def]
    say = say or _say
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stack_start()
    except Exception as exc:
        say(f"failed to start: {exc}")
        await stack_stop()
        return 1
    await stop.wait()
    say("stopping: draining consumers")
    await stack_stop()
    say("stopped")
    return 0


async def _up(settings: Settings, *, demo: bool, fake_providers: bool = False) -> int:
    from services.stack import Stack

    configure_tracing(settings.service_name, settings.otlp_endpoint)
    fakes = []
    if fake_providers:
        from services.fakes.launch import start_all

        fakes = await start_all(public_base_url=f"http://{settings.host}:{settings.port}", host=settings.host)
        for fake in fakes:
            os.environ.update(fake.env)
            _say(f"FAKE {fake.name} (a local stand-in, not the real provider) at {fake.base_url}")
        settings = dataclasses.replace(
            Settings.from_env(), host=settings.host, port=settings.port, data_dir=settings.data_dir
        )
    stack = Stack(settings, embedded=True, demo=demo, say=_say)

    async def start() -> None:
        await stack.start()
        base = stack.base_url
        _say(f"support form:   {base}/")
        _say(f"ticket status:  {base}/support/ticket/<ticket id>")
        _say(f"health / ready: {base}/health  {base}/ready")
        _say(f"metrics:        {base}/metrics/channels  {base}/metrics")
        _say(f"NATS {stack.settings.nats_url}  PostgreSQL {_safe_dsn(stack.settings.database_url)}")
        _say("press Ctrl-C to stop")

    try:
        return await _run_until_signalled(start, stack.stop)
    finally:
        for fake in fakes:
            if fake.stop:
                await fake.stop()
        shutdown_tracing()


async def _service(settings: Settings, name: str) -> int:
    from services.stack import Stack

    configure_tracing(os.environ.get("OTEL_SERVICE_NAME") or f"fte-{name}", settings.otlp_endpoint)
    log = logging.getLogger(f"fte.{name}")
    stack = Stack(settings, services=[name], say=log.info)
    try:
        return await _run_until_signalled(stack.start, stack.stop, say=log.info)
    finally:
        shutdown_tracing()


def _require(value: str | None, name: str) -> str:
    if not value:
        print(f"fte: {name} is not set", file=sys.stderr)
        raise SystemExit(2)
    return value


async def _migrate(settings: Settings) -> int:
    from shared.db import migrate

    applied = await migrate(_require(settings.database_url, "DATABASE_URL"))
    _say(f"applied {len(applied)} migration(s): {', '.join(applied) or 'none pending'}")
    return 0


async def _provision(settings: Settings, replicas: int) -> int:
    from shared.bus import Bus
    from shared.provision import provision

    bus = await Bus.connect(_require(settings.nats_url, "NATS_URL"))
    try:
        for line in await provision(bus.js, replicas=replicas):
            _say(line)
    finally:
        await bus.close()
    return 0


def _safe_dsn(dsn: str | None) -> str:
    if not dsn:
        return "-"
    with contextlib.suppress(Exception):
        from urllib.parse import urlsplit

        parts = urlsplit(dsn)
        if parts.password:
            return dsn.replace(parts.password, "***")
    return dsn


if __name__ == "__main__":
    raise SystemExit(main())
