"""`fte up` as a user runs it: a subprocess that starts, answers, stops on SIGTERM, keeps its data."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from shared.embedded import free_port
from tests.helpers import submission

pytestmark = pytest.mark.slow


def _start(data_dir: Path, port: int) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NATS_URL", "DATABASE_URL")}
    return subprocess.Popen(
        [sys.executable, "-m", "services.cli", "up", "--data-dir", str(data_dir), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )


def _wait_ready(proc: subprocess.Popen[str], base: str, timeout: float = 40) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if proc.poll() is not None:
            raise AssertionError(f"fte up exited early: {proc.stdout.read() if proc.stdout else ''}")
        try:
            if httpx.get(f"{base}/ready", timeout=1).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise AssertionError("fte up did not become ready")


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    try:
        out, _ = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert proc.returncode == 0, out
    return out


def test_fte_up_starts_answers_stops_cleanly_and_keeps_its_data() -> None:
    with tempfile.TemporaryDirectory(prefix="fte-up") as tmp:
        data_dir = Path(tmp) / "data"
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        proc = _start(data_dir, port)
        try:
            _wait_ready(proc, base)
            response = httpx.post(f"{base}/support/submit", json=submission(), timeout=5)
            assert response.status_code == 201
            ticket_url = f"{base}{response.json()['status_url']}"
            # The first reply of a fresh install may wait for the embedding model to load.
            deadline = time.monotonic() + 60
            while httpx.get(ticket_url, headers={"Accept": "application/json"}).json()["status"] in (
                "open",
                "processing",
            ):
                assert time.monotonic() < deadline, "no reply within 60 s"
                time.sleep(0.2)
            first = httpx.get(ticket_url, headers={"Accept": "application/json"}).json()
        finally:
            out = _stop(proc) if proc.poll() is None else ""
        assert "ready in" in out and "stopped" in out
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"{base}/health", timeout=1)

        proc = _start(data_dir, port)  # the same data dir: everything is still there
        try:
            _wait_ready(proc, base)
            again = httpx.get(ticket_url, headers={"Accept": "application/json"}).json()
            assert again == first
            assert [m["role"] for m in again["messages"]] == ["customer", "agent"]
        finally:
            out = _stop(proc)
        assert "16 unchanged" in out  # the demo knowledge base is not loaded twice


def test_fte_service_runs_one_service_against_given_servers(prepared) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    env = {
        **os.environ,
        "NATS_URL": prepared.nats_url,
        "DATABASE_URL": prepared.database_url,
        "FTE_PORT": str(port),
        "FTE_EMBEDDINGS": "none",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "service", "ingress-web"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        _wait_ready(proc, f"http://127.0.0.1:{port}")
        health = httpx.get(f"http://127.0.0.1:{port}/health").json()
        assert health["services"] == ["ingress-web"]
        assert httpx.get(f"http://127.0.0.1:{port}/metrics").status_code == 200
    finally:
        out = _stop(proc)
    # Production logs are JSON lines.
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert any(line["message"] == "stopped" for line in lines), out
