"""Real-process fixtures for the settlement machinery (issue 4): nothing here is mocked.

- `redis_server` (package scope): a dedicated `redis-server` on a free loopback port, which tests may stop and start
  without disturbing the shared Redis other test runs use. The test process's Celery app sends there for the
  duration of the package (checked with a probe message), and is pointed back afterwards.
- `start_worker`: a factory of real `celery -A chargepay worker` subprocesses (each in its own process group) that
  use the pytest-django test database, the dedicated Redis and the test's gateway sandbox.
- Every test starts from an empty broker, with eager tasks off and short leases / sweep delays.
"""

import contextlib
import os
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis

from chargepay.celery import app
from gateways.bridgecomm import protocol
from gateways.tests.helpers import worker_database_url

ROOT = Path(__file__).resolve().parents[3]
CELERY = ROOT / ".venv" / "bin" / "celery"
REDIS_SERVER = "redis-server"

# What the worker subprocesses run with (and what the test process's own sweeper calls use).
LEASE_SECONDS = 3
SWEEP_AFTER_SECONDS = 1
WORKER_READY_SECONDS = 40


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A `redis-server` subprocess on 127.0.0.1:`port`, no persistence. `stop()` / `start()` keep the port."""

    def __init__(self, port: int, workdir: Path):
        self.port = port
        self.workdir = workdir
        self.url = f"redis://127.0.0.1:{port}/0"
        self.client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=2, socket_connect_timeout=2)
        self._proc: subprocess.Popen | None = None

    def start(self) -> None:
        assert not self.running, "redis-server is already running"
        log = open(self.workdir / "redis.log", "ab")  # noqa: SIM115 (the subprocess owns it)
        self._proc = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + 10
        while True:
            try:
                if self.client.ping():
                    return
            except redis.ConnectionError:
                pass
            if self._proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {self.port}: {(self.workdir / 'redis.log').read_text()}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self._proc is None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=10)
        self._proc = None
        self.client.connection_pool.disconnect()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def queue_length(self, queue: str = "celery") -> int:
        return self.client.llen(queue)


def _point_app_at(broker_url: str) -> None:
    """Make the test process's Celery app publish to `broker_url`: drop the pooled connections/producers that
    were opened for the previous URL (as Celery itself does after a fork)."""
    app.conf.broker_url = broker_url
    if app._pool is not None:
        app._pool.force_close_all()
        app._pool = None
    amqp = app.__dict__.get("amqp")
    if amqp is not None and amqp._producer_pool is not None:
        amqp._producer_pool.force_close_all()
        amqp._producer_pool = None


@pytest.fixture(scope="package")
def redis_server(tmp_path_factory):
    server = RedisServer(free_port(), tmp_path_factory.mktemp("redis"))
    server.start()
    previous_url = app.conf.broker_url
    _point_app_at(server.url)
    try:
        # Prove the app really publishes to the dedicated server: a probe message lands in its own queue there.
        probe_queue = f"probe-{uuid.uuid4().hex}"
        app.send_task("chargepay.tests.probe", queue=probe_queue, retry=False)
        assert server.queue_length(probe_queue) == 1, "the Celery app does not publish to the dedicated Redis"
        server.client.delete(probe_queue)
        yield server
    finally:
        _point_app_at(previous_url)
        server.stop()


@pytest.fixture(autouse=True)
def _task_settings(redis_server, settings):
    """Each test: the dedicated Redis up and empty, tasks sent (not run eagerly), short leases and sweep delay."""
    if not redis_server.running:
        redis_server.start()
    redis_server.client.flushall()
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CHARGE_WORK_LEASE_SECONDS = LEASE_SECONDS
    settings.CHARGE_SWEEP_AFTER_SECONDS = SWEEP_AFTER_SECONDS
    # Service-account logins hash fast here (password hashing is tested elsewhere).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    yield
    if not redis_server.running:  # a test that stopped it and failed before starting it again
        redis_server.start()


@dataclass
class Worker:
    """A `celery worker` subprocess (its own process group: the prefork parent and its child)."""

    name: str
    proc: subprocess.Popen
    log_path: Path
    env: dict = field(repr=False)

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_ready(self, timeout: float = WORKER_READY_SECONDS) -> "Worker":
        """Until the worker answers a remote-control ping over the dedicated broker."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.alive:
                raise AssertionError(f"worker {self.name} exited ({self.proc.returncode}):\n{self.log()}")
            if app.control.ping(destination=[self.name], timeout=0.5):
                return self
            if time.monotonic() > deadline:
                raise AssertionError(f"worker {self.name} not ready after {timeout}s:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL the whole process group: no warm shutdown, no acknowledgement, nothing cleaned up."""
        if self.alive:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self._reap_group()

    def stop(self, timeout: float = 15) -> None:
        """Warm shutdown (SIGTERM), then SIGKILL if it takes longer than `timeout`."""
        if self.alive:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._reap_group()

    def _reap_group(self) -> None:
        # The pool child may outlive its parent by a moment; it is in the same group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)


@pytest.fixture
def start_worker(transactional_db, redis_server, sandbox, tmp_path, request):
    """Factory: `start_worker(purge=True, wait=True, **env)` starts a worker subprocess and returns its `Worker`.

    `purge` empties the dedicated Redis first; `env` overrides the worker's environment (e.g.
    GATEWAY_TIMEOUT_SECONDS="1"). Every worker is stopped (killed if need be) when the test ends, before the
    test database is flushed; their logs are printed (shown for a failing test).
    """
    workers: list[Worker] = []

    def start(*, purge: bool = True, wait: bool = True, **overrides: str) -> Worker:
        if purge:
            redis_server.client.flushall()
        name = f"w{len(workers) + 1}-{uuid.uuid4().hex[:8]}@127.0.0.1"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "chargepay.settings",
            "DATABASE_URL": worker_database_url(),
            "REDIS_URL": redis_server.url,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "GATEWAY_URL": sandbox.url,
            "GATEWAY_USER": protocol.SANDBOX_USER,
            "GATEWAY_PASSWORD": protocol.SANDBOX_PASSWORD,
            "GATEWAY_MERCHANT_CODE": "100",
            "GATEWAY_MERCHANT_ACCOUNT_CODE": "1000",
            "GATEWAY_TIMEOUT_SECONDS": "5",
            "CHARGE_WORK_LEASE_SECONDS": str(LEASE_SECONDS),
            "CHARGE_SWEEP_AFTER_SECONDS": str(SWEEP_AFTER_SECONDS),
            "CAPTURE_RETRY_MAX_DELAY": "1",
            "PYTHONUNBUFFERED": "1",
            **overrides,
        }
        log_path = tmp_path / f"worker-{len(workers) + 1}.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [
                    str(CELERY),
                    "-A",
                    "chargepay",
                    "worker",
                    "-c",
                    "1",
                    "-P",
                    "prefork",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "-l",
                    "INFO",
                    "-n",
                    name,
                ],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        worker = Worker(name=name, proc=proc, log_path=log_path, env=env)
        workers.append(worker)
        return worker.wait_ready() if wait else worker

    try:
        yield start
    finally:
        for worker in workers:
            worker.stop(timeout=5)
        for worker in workers:
            print(f"===== {worker.name} (exit {worker.proc.returncode}) =====\n{worker.log()}")
