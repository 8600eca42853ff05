"""Real processes for the fault tests: a private Redis, Celery workers and beats, an SMTP sink.

Every process is started by a fixture and killed in its teardown; every wait is bounded.
The shared Redis on 6379 is never touched: each test gets its own redis-server on a free
port, which it may kill and restart at will. Workers and beats run
`tests.reliability.celery_settings` against the test database (PostgreSQL: the
subprocesses need a database they can share with the test).
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from email import message_from_bytes
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: the worker subprocesses must share the test database "
           "(SQLite's test database lives in memory) and the faults are PostgreSQL's",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate: Callable[[], object], *, timeout: float, interval: float = 0.05,
             what: str | Callable[[], str] = "condition") -> object:
    """Poll `predicate` until it returns something truthy; fail after `timeout` seconds.

    `what` may be a callable, evaluated only on failure: the processes' logs as they are
    when the wait gives up, not as they were when it began."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            if callable(what):
                what = what()
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


# --- Redis -----------------------------------------------------------------------------

class RedisServer:
    """A private redis-server that can be killed and restarted on the same port.

    Append-only file with fsync on every write, as a broker should run in production:
    queued tasks survive a crash of Redis itself.
    """

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            pytest.skip("needs redis-server on PATH")
        self.proc = subprocess.Popen(  # noqa: S603
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
             "--save", "", "--appendonly", "yes", "--appendfsync", "always"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        def up() -> bool:
            try:
                return bool(redis.Redis.from_url(self.url, socket_connect_timeout=0.2).ping())
            except redis.ConnectionError:
                return False

        wait_for(up, timeout=10, what="redis-server to start")

    def kill(self) -> None:
        """SIGKILL: a crash, not a clean shutdown."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def queue_length(self, name: str = "celery") -> int:
        import redis

        return redis.Redis.from_url(self.url).llen(name)

    def unacked(self) -> int:
        import redis

        return redis.Redis.from_url(self.url).hlen("unacked")


@pytest.fixture
def redis_server(tmp_path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.kill()


# --- SMTP ------------------------------------------------------------------------------

class SmtpSink:
    """Records the Message-ID of every e-mail accepted; optionally slow, so a worker can
    be killed while a batch of e-mails is going out."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.message_ids: list[str] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd API
        if self.delay:
            time.sleep(self.delay)  # blocks the sink's loop: a slow mail server
        message = message_from_bytes(envelope.content)
        with self.lock:
            self.message_ids.append(message["Message-ID"])
        return "250 OK"

    def count(self) -> int:
        with self.lock:
            return len(self.message_ids)

    def counts(self) -> Counter:
        with self.lock:
            return Counter(self.message_ids)


@pytest.fixture
def smtp_sink() -> Iterator[tuple[SmtpSink, int]]:
    from aiosmtpd.controller import Controller

    sink = SmtpSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    yield sink, port
    controller.stop()


# --- Celery ----------------------------------------------------------------------------

class Celery:
    """Starts workers and beats for one test; kills every one of them at the end."""

    def __init__(self, redis: RedisServer, smtp_port: int, tmp: Path) -> None:
        db = connection.settings_dict
        user = db["USER"] or "postgres"
        auth = f"{user}:{db['PASSWORD']}" if db.get("PASSWORD") else user
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.reliability.celery_settings",
            "HELPDESK_TESTING": "1",
            "HELPDESK_VAR_DIR": str(tmp),
            "DATABASE_URL": f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:"
                            f"{db['PORT'] or 5432}/{db['NAME']}",
            "CELERY_BROKER_URL": redis.url,
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(smtp_port),
            "PYTHONPATH": str(ROOT),
        }
        self.env.pop("REDIS_URL", None)  # the cache stays in process memory
        self.tmp = tmp
        self.procs: list[subprocess.Popen] = []
        self.logs: list[Path] = []

    def _spawn(self, args: list[str], name: str) -> subprocess.Popen:
        log = self.tmp / f"{name}-{len(self.logs)}.log"
        self.logs.append(log)
        with log.open("wb") as out:
            proc = subprocess.Popen(  # noqa: S603
                [str(BIN / "celery"), "-A", "helpdesk", *args], env=self.env, cwd=ROOT,
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        return proc

    def worker(self, *, concurrency: int = 2, pool: str = "prefork") -> subprocess.Popen:
        return self._spawn(["worker", "--pool", pool, "--concurrency", str(concurrency),
                            "--without-heartbeat", "--without-mingle", "--without-gossip",
                            "--loglevel", "INFO"], "worker")

    def beat(self) -> subprocess.Popen:
        schedule = self.tmp / f"beat-schedule-{len(self.logs)}"
        return self._spawn(["beat", "--schedule", str(schedule), "--max-interval", "1",
                            "--loglevel", "INFO"], "beat")

    @staticmethod
    def children(proc: subprocess.Popen) -> list[int]:
        """The pool processes of a prefork worker."""
        out = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,  # noqa: S607
                             text=True, check=False).stdout
        return [int(pid) for pid in out.split()]

    @staticmethod
    def kill(proc: subprocess.Popen) -> None:
        """SIGKILL the process and its pool: the machine lost power, nothing is acked."""
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    @staticmethod
    def stop(proc: subprocess.Popen) -> None:
        """A warm shutdown (SIGTERM), as at the end of a deploy."""
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)

    def send(self, task: str, *args) -> None:
        """Queue a task by name, as beat or a web process would."""
        from celery import Celery as App

        # Not the current app: later tests would queue their tasks to this test's broker.
        app = App("reliability-client", broker=self.env["CELERY_BROKER_URL"],
                  set_as_current=False)
        try:
            app.send_task(task, args=args)
        finally:
            app.close()

    def output(self) -> str:
        """Each process's warnings and errors (from the whole log), then its last lines."""
        parts = []
        for path in self.logs:
            if not path.exists():
                continue
            text = path.read_text(errors="replace")
            trouble = [line for line in text.splitlines()
                       if any(w in line for w in ("WARNING", "ERROR", "Error", "Traceback"))]
            parts.append(f"--- {path.name}: {len(trouble)} warning/error lines\n"
                         + "\n".join(trouble[-40:]) + f"\n--- {path.name}: last lines\n"
                         + text[-3000:])
        return "\n".join(parts)

    def close(self) -> None:
        for proc in self.procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)


@pytest.fixture
def celery(transactional_db, redis_server, smtp_sink, tmp_path) -> Iterator[Celery]:
    """Depends on the database fixture, so the processes are gone before it is flushed."""
    procs = Celery(redis_server, smtp_sink[1], tmp_path)
    yield procs
    procs.close()
    connection.close()  # the test's own connection may have been terminated
