"""GET /health/live and /health/ready (DESIGN §12): in-process against the test database and Redis, then as
production runs them (gunicorn, DEBUG off) against a private PostgreSQL and a private Redis that the test stops."""

import time

import pytest

from gateways.tests.helpers import worker_database_url
from monitoring.tests.servers import Gunicorn, PrivatePostgres, PrivateRedis, free_port, get_json

SECRETS = ("test-secret-key", "test-jwt-signing-key", "postgres://", "redis://", "password")


def test_live_answers_without_touching_any_dependency(client, settings):
    # No database fixture: pytest-django refuses any query. And nothing listens on Redis's port here.
    settings.REDIS_URL = "redis://127.0.0.1:1/0"

    response = client.get("/health/live")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"process": {"status": "ok"}}}
    assert response["Cache-Control"] == "no-store"
    assert response["X-Request-Id"]


@pytest.mark.django_db
def test_ready_reports_each_check_and_a_down_gateway_is_not_fatal(client, settings):
    settings.GATEWAY_URL = f"http://127.0.0.1:{free_port()}/PaymentService/RequestHandler.svc"  # nothing listens

    response = client.get("/health/ready")

    assert response.status_code == 200, response.content
    checks = response.json()["checks"]
    assert response.json()["status"] == "ok"
    assert {name: (c["status"], c["fatal"]) for name, c in checks.items()} == {
        "database": ("ok", True),
        "migrations": ("ok", True),
        "redis": ("ok", True),
        "gateway": ("failed", False),
    }
    assert checks["gateway"]["detail"] == "ConnectionRefusedError"


@pytest.mark.django_db
def test_ready_with_the_gateway_up_and_no_redis_configured(client, gateway_settings):
    gateway_settings.REDIS_URL = ""  # make run: eager Celery, nothing to check

    response = client.get("/health/ready")

    assert response.status_code == 200
    assert response.json()["checks"]["gateway"]["status"] == "ok"
    redis_check = response.json()["checks"]["redis"]
    assert (redis_check["status"], redis_check["detail"]) == ("skipped", "no REDIS_URL (eager Celery, in-memory cache)")


def test_health_paths_need_no_allowed_host_and_refuse_writes(client, settings):
    settings.ALLOWED_HOSTS = ["api.example.com"]

    assert client.get("/health/live", HTTP_HOST="web:8000").status_code == 200
    response = client.post("/health/live")
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"


@pytest.fixture
def private_stack(tmp_path, transactional_db):
    """A private PostgreSQL holding a copy of the migrated test database, a private Redis, and gunicorn (DEBUG
    off, as in production) serving the app against both."""
    postgres = PrivatePostgres(tmp_path / "pg")
    (tmp_path / "pg").mkdir()
    postgres.init().start()
    redis_server = PrivateRedis(tmp_path).start()
    web = None
    try:
        postgres.copy_database(worker_database_url())
        # One migration recorded as not applied yet: the first readiness probe must see it.
        postgres.psql(
            "-d",
            "chargepay",
            "-c",
            "CREATE TABLE held_back AS SELECT * FROM django_migrations WHERE id = "
            "(SELECT max(id) FROM django_migrations); DELETE FROM django_migrations WHERE id IN "
            "(SELECT id FROM held_back)",
        )
        web = Gunicorn(
            tmp_path,
            {
                "DATABASE_URL": postgres.url,
                "REDIS_URL": redis_server.url,
                "GATEWAY_URL": f"http://127.0.0.1:{free_port()}/PaymentService/RequestHandler.svc",
                "WEB_CONCURRENCY": "1",
            },
        ).start()
        yield postgres, redis_server, web
    finally:
        if web is not None:
            web.stop()
        redis_server.stop()
        postgres.stop()


def _ready(web) -> tuple[int, dict, float]:
    started = time.monotonic()
    status, body = get_json(f"{web.url}/health/ready", timeout=10)
    return status, body, time.monotonic() - started


def _statuses(body: dict) -> dict[str, str]:
    return {name: check["status"] for name, check in body["checks"].items()}


def test_ready_answers_503_with_a_migration_pending_or_postgresql_or_redis_stopped(private_stack):
    postgres, redis_server, web = private_stack
    status, body, _ = _ready(web)
    assert status == 503, body
    assert body["checks"]["migrations"]["status"] == "failed"
    assert body["checks"]["migrations"]["detail"] == "1 unapplied"
    assert _statuses(body)["database"] == "ok"

    postgres.psql("-d", "chargepay", "-c", "INSERT INTO django_migrations SELECT * FROM held_back")
    status, body, _ = _ready(web)
    assert status == 200, body
    assert _statuses(body) == {"database": "ok", "migrations": "ok", "redis": "ok", "gateway": "failed"}

    redis_server.stop()
    status, body, took = _ready(web)
    assert status == 503, body
    assert body["status"] == "unavailable"
    assert _statuses(body) == {"database": "ok", "migrations": "ok", "redis": "failed", "gateway": "failed"}
    assert took < 3

    redis_server.start()
    assert _ready(web)[0] == 200

    postgres.stop()  # the web process holds a persistent connection to it: that one breaks
    for _ in range(2):  # the broken kept connection, then a refused new one
        status, body, took = _ready(web)
        assert status == 503, body
        assert _statuses(body)["database"] == "failed"
        assert body["checks"]["migrations"] == {"status": "failed", "fatal": True, "ms": 0.0, "detail": "database unavailable"}
        assert _statuses(body)["redis"] == "ok"
        assert took < 3
        text = str(body)
        assert not any(secret in text for secret in SECRETS), text
    assert get_json(f"{web.url}/health/live")[0] == 200

    postgres.start()
    assert _ready(web)[0] == 200
