"""`fte bench e2e`: web submissions through a fresh stack, and a bare JetStream relay beside it.

The stack runs in its own process (`fte up`), as in production; this process only generates load
and reads timestamps, so the figures include real HTTP, JetStream and PostgreSQL round trips.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import nats
from nats.js.api import AckPolicy, ConsumerConfig, StorageType, StreamConfig

from services.agent.kb import demo_kb_path
from services.registry import SERVICE_NAMES
from shared.embedded import EmbeddedNats, EmbeddedPostgres, free_port
from subjects.names import BenchSubjects

HOPS = 3  # identity, agent, dispatcher: three consumers between the first and the last publish
QUESTIONS = (
    "How do I reset my password?",
    "How can I connect Slack to my workspace?",
    "Where can I download my invoices?",
    "How do I invite a teammate to my workspace?",
    "Can I export all my boards to CSV?",
    "How do I turn on two-factor authentication?",
)


@dataclass
class Sample:
    ticket_id: str
    sent_at: float  # wall clock, seconds
    submit_ms: float
    status: int


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1))))
    return ordered[rank]


def _summary(values: list[float]) -> str:
    return f"p50 {percentile(values, 50):7.1f}  p95 {percentile(values, 95):7.1f}  p99 {percentile(values, 99):7.1f} ms"


class RunningStack:
    """`fte up` in a subprocess on a fresh data dir."""

    def __init__(self, data_dir: Path, *, args: Sequence[str] = (), env: Mapping[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.args = list(args)  # more `fte up` flags, e.g. --no-demo
        self.env = dict(env or {})  # on top of this process's environment
        self.proc: subprocess.Popen[str] | None = None
        self.nats_url = ""
        self.database_url = ""
        self.output: deque[str] = deque(maxlen=40)  # its last lines, to explain a failed start

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("NATS_URL", "DATABASE_URL")}
        env["FTE_LOG_LEVEL"] = "WARNING"
        env.update(self.env)
        cmd = [sys.executable, "-m", "services.cli", "up", "--data-dir", str(self.data_dir), "--port", str(self.port)]
        cmd += self.args
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)  # noqa: S603
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 60
        ready = False
        for line in self.proc.stdout:
            self.output.append(line.rstrip())
            match = re.search(r"NATS (\S+)\s+PostgreSQL (\S+)", line)
            if match:
                self.nats_url, self.database_url = match.group(1), match.group(2)
            if "press Ctrl-C" in line:
                ready = True
                break
            if time.monotonic() > deadline:
                break
        if not self.nats_url or not ready:
            self.stop()
            raise RuntimeError("the stack did not start:\n" + "\n".join(self.output))
        # Keep draining its output so that it never blocks on a full pipe (from any thread or event loop).
        threading.Thread(target=self._drain, name="fte-up-output", daemon=True).start()

    def _drain(self) -> None:
        for line in self.proc.stdout if self.proc and self.proc.stdout else ():
            self.output.append(line.rstrip())

    async def wait_for_output(self, text: str, timeout: float) -> bool:
        """Wait until the stack printed a line containing ``text`` (e.g. the knowledge base is embedded)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in list(self.output)):
                return True
            await asyncio.sleep(0.2)
        return False

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class ServiceProcesses:
    """The production layout on one machine: embedded servers, then one `fte service NAME` process
    per service (as the Helm chart runs them), after `fte migrate`, `fte provision` and
    `fte kb ingest` of the demo knowledge base."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.nats = EmbeddedNats(data_dir / "nats")
        self.postgres = EmbeddedPostgres(data_dir / "postgres")
        self.procs: list[subprocess.Popen[bytes]] = []
        self.port = free_port()
        self.nats_url = ""
        self.database_url = ""

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("NATS_URL", "DATABASE_URL")}
        return {
            **env,
            "NATS_URL": self.nats_url,
            "DATABASE_URL": self.database_url,
            "FTE_LOG_LEVEL": "WARNING",
            **extra,
        }

    def _fte(self, *args: str) -> None:
        cmd = [sys.executable, "-m", "services.cli", *args]
        subprocess.run(cmd, env=self._env(), check=True, stdout=subprocess.DEVNULL)  # noqa: S603

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.nats_url = self.nats.start().url
        self.database_url = self.postgres.start().url
        self._fte("migrate")
        self._fte("provision")
        self._fte("kb", "ingest", str(demo_kb_path()))
        ports = {}
        for name in SERVICE_NAMES:
            ports[name] = self.port if name == "ingress-web" else free_port()
            cmd = [sys.executable, "-m", "services.cli", "service", name]
            env = self._env(FTE_PORT=str(ports[name]), OTEL_SERVICE_NAME=f"fte-{name}")
            self.procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))  # noqa: S603
        deadline = time.monotonic() + 60
        for port in ports.values():
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("the services did not become ready")
                time.sleep(0.2)

    async def wait_for_output(self, text: str, timeout: float) -> bool:
        return True  # `fte kb ingest` embedded the knowledge base before the services started

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.nats.stop()
        self.postgres.stop()


async def _paced(rate: float, count: int, send: Callable[[int], Awaitable[None]]) -> float:
    """Open-loop load: request i starts at t0 + i / rate whatever the latency of the others."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    tasks = []
    for i in range(count):
        delay = start + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(i)))
    await asyncio.gather(*tasks)
    return loop.time() - start


async def submit_phase(client: httpx.AsyncClient, rate: float, seconds: float, tag: str) -> list[Sample]:
    samples: list[Sample] = []

    async def send(i: int) -> None:
        body = {
            "name": "Load Tester",
            "email": f"bench-{tag}-{i}@example.com",
            "subject": "Benchmark question",
            "message": QUESTIONS[i % len(QUESTIONS)] + f" (request {i})",
            "category": "technical",
        }
        sent = time.time()
        began = time.perf_counter()
        try:
            response = await client.post("/support/submit", json=body)
        except httpx.HTTPError:
            samples.append(Sample("", sent, (time.perf_counter() - began) * 1000, 0))
            return
        elapsed = (time.perf_counter() - began) * 1000
        ticket = response.json().get("ticket_id", "") if response.status_code == 201 else ""
        samples.append(Sample(ticket, sent, elapsed, response.status_code))

    await _paced(rate, int(rate * seconds), send)
    return samples


async def reply_times(database_url: str, samples: list[Sample], timeout: float = 120) -> dict[str, float]:
    """Wall-clock time at which each ticket's reply was stored (waits until all are there)."""
    ids = [s.ticket_id for s in samples if s.ticket_id]
    conn = await asyncpg.connect(database_url)
    try:
        deadline = time.monotonic() + timeout
        while True:
            rows = await conn.fetch(
                """SELECT ticket_id, extract(epoch FROM min(created_at)) AS at FROM messages
                   WHERE role = 'agent' AND ticket_id = ANY($1::text[]) GROUP BY ticket_id""",
                ids,
            )
            if len(rows) >= len(ids) or time.monotonic() > deadline:
                return {r["ticket_id"]: float(r["at"]) for r in rows}
            await asyncio.sleep(0.5)
    finally:
        await conn.close()


async def relay_throughput(nats_url: str, count: int) -> float:
    """Messages per second through HOPS bare consumers (fetch, publish on, ack), no other work."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    with contextlib.suppress(Exception):
        await js.delete_stream(BenchSubjects.stream)
    await js.add_stream(StreamConfig(name=BenchSubjects.stream, subjects=[BenchSubjects.all], storage=StorageType.FILE))
    for hop in range(HOPS + 1):
        await js.add_consumer(
            BenchSubjects.stream,
            ConsumerConfig(
                durable_name=f"hop{hop}", ack_policy=AckPolicy.EXPLICIT, filter_subject=BenchSubjects.hop(hop)
            ),
        )
    done = asyncio.Event()
    arrived = 0

    async def relay(hop: int) -> None:
        nonlocal arrived
        sub = await js.pull_subscribe_bind(durable=f"hop{hop}", stream=BenchSubjects.stream)
        while not done.is_set():
            try:
                msgs = await sub.fetch(batch=64, timeout=1)
            except (nats.errors.TimeoutError, TimeoutError):
                continue
            for msg in msgs:
                if hop < HOPS:
                    await js.publish(
                        BenchSubjects.hop(hop + 1), msg.data, headers={"Nats-Msg-Id": f"{hop}:{msg.data!r}"}
                    )
                else:
                    arrived += 1
                await msg.ack()
            if arrived >= count:
                done.set()

    workers = [asyncio.create_task(relay(hop)) for hop in range(1, HOPS + 1)]
    started = time.perf_counter()
    payload = secrets.token_bytes(16).hex()
    pubs = [js.publish_async(BenchSubjects.hop(1), f"{payload}-{i}".encode()) for i in range(count)]
    await asyncio.gather(*pubs)
    await asyncio.wait_for(done.wait(), timeout=120)
    elapsed = time.perf_counter() - started
    for task in workers:
        task.cancel()
    await js.delete_stream(BenchSubjects.stream)
    await nc.close()
    return count / elapsed


async def run(args: argparse.Namespace) -> int:
    base_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="fte-bench"))
    layout = getattr(args, "layout", "one-process")
    stack: RunningStack | ServiceProcesses = (
        ServiceProcesses(Path(base_dir) / "data") if layout == "processes" else RunningStack(Path(base_dir) / "data")
    )
    print(f"starting a fresh stack ({layout}) in {stack.data_dir} ...", flush=True)
    stack.start()
    try:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        if await stack.wait_for_output("sections embedded", timeout=180):
            print("the knowledge base is embedded: measuring the steady state")
        async with httpx.AsyncClient(base_url=stack.base, timeout=30, limits=limits) as client:
            warmup = await submit_phase(client, 20, 1, "warmup")
            await reply_times(stack.database_url, warmup)  # the agent has loaded its model

            print(f"\nphase 1: {args.submit_rate:.0f} submissions/s for {args.seconds:.0f} s (submit latency)")
            submits = await submit_phase(client, args.submit_rate, args.seconds, "submit")
            ok = [s.submit_ms for s in submits if s.status == 201]
            print(f"  submitted {len(ok)}/{len(submits)}   submit latency {_summary(ok)}")
            await reply_times(stack.database_url, submits)  # let the backlog clear

            print(f"\nphase 2: {args.rate:.0f} messages/s for {args.seconds:.0f} s (end-to-end latency)")
            e2e_samples = await submit_phase(client, args.rate, args.seconds, "e2e")
            replies = await reply_times(stack.database_url, e2e_samples)
            e2e = [(replies[s.ticket_id] - s.sent_at) * 1000 for s in e2e_samples if s.ticket_id in replies]
            print(f"  replied {len(e2e)}/{len(e2e_samples)}   submit -> reply stored {_summary(e2e)}")
            print(f"  submit latency at this rate {_summary([s.submit_ms for s in e2e_samples])}")

            burst = int(args.burst)
            print(f"\nphase 3: a burst of {burst} submissions (sustained throughput)")
            began = time.time()
            burst_samples = await submit_phase(client, 10_000, burst / 10_000, "burst")
            burst_replies = await reply_times(stack.database_url, burst_samples)
            finished = max(burst_replies.values(), default=began)
            mesh_rate = len(burst_replies) / max(finished - began, 1e-9)
            print(f"  {len(burst_replies)} replies in {finished - began:.1f} s: {mesh_rate:.0f} messages/s end to end")

        print(f"\nphase 4: bare JetStream relay, {HOPS} hops, no work, same nats-server")
        relay_rate = await relay_throughput(stack.nats_url, max(burst, 2000))
        print(f"  {relay_rate:.0f} messages/s through {HOPS} hops")
        print(f"\nmesh / bare relay throughput: {mesh_rate / relay_rate:.1%}")
    finally:
        stack.stop()
    return 0
