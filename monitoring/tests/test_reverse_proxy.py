"""deploy/nginx.conf in front of gunicorn (Debian's nginx, gunicorn with gunicorn.conf.py, both on loopback ports of
the test): clients that send a request body slowly do not hold gunicorn's threads, so others are still served.
The same clients sent straight to gunicorn stall it: the proof that the test measures what the proxy does."""

import socket
import time
from contextlib import ExitStack

import pytest
import requests

from gateways.tests.helpers import worker_database_url
from monitoring.tests.servers import Gunicorn, Nginx, get

SLOW_CLIENTS = 12
# Threads of the one gunicorn process: GUNICORN_THREADS + GATEWAY_CALLS_PER_PROCESS.
THREADS = 3


def open_slow_client(port: int) -> socket.socket:
    """A partner registration whose body announces 1000 bytes and sends 2: the app, reading the body, waits."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(
        b"POST /public/v1/partners HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b'Content-Length: 1000\r\n\r\n{"'
    )
    return sock


def answers_within(url: str, seconds: float) -> bool:
    try:
        return get(url, timeout=seconds)[0] == 200
    except OSError:
        return False


@pytest.fixture
def web(tmp_path, transactional_db):
    server = Gunicorn(
        tmp_path,
        {
            "DATABASE_URL": worker_database_url(),
            "REDIS_URL": "",
            "WEB_CONCURRENCY": "1",
            "GUNICORN_THREADS": str(THREADS - 1),
            "GATEWAY_CALLS_PER_PROCESS": "1",
        },
    ).start()
    yield server
    server.stop()


@pytest.fixture
def proxy(tmp_path, web):
    (tmp_path / "nginx").mkdir()
    server = Nginx(tmp_path / "nginx", web.port).start()
    yield server
    server.stop()


def test_slow_clients_do_not_stall_the_app_behind_nginx(web, proxy):
    with ExitStack() as stack:
        for _ in range(SLOW_CLIENTS):
            stack.callback(open_slow_client(proxy.port).close)
        time.sleep(0.5)  # they have all sent what they will send

        started = time.monotonic()
        status, _ = get(f"{proxy.url}/health/live", timeout=5)
        assert status == 200
        assert time.monotonic() - started < 1
        assert answers_within(f"{web.url}/health/live", 1)  # gunicorn's threads are all free

        # A whole request goes through, body and all, answered in the API's envelope.
        response = requests.post(
            f"{proxy.url}/public/v1/partners", data=b"{not json", headers={"Content-Type": "application/json"}, timeout=5
        )
        assert (response.status_code, response.json()["error"]) == (400, "INVALID_FORMAT")
        assert response.headers["X-Request-Id"]

    # Straight to gunicorn, as many slow clients as it has threads hold it: the next request waits.
    with ExitStack() as stack:
        for _ in range(THREADS):
            stack.callback(open_slow_client(web.port).close)
        time.sleep(0.5)
        assert not answers_within(f"{web.url}/health/live", 2)
    # closing them frees the threads
    assert answers_within(f"{web.url}/health/live", 5)
