"""docker-compose.yml, validated by Compose itself (`docker compose config`, or Debian's docker-compose; no engine
needed), with a .env made from .env.example in a temporary copy of the project's files; and .dockerignore."""

import shutil
import subprocess

import yaml

from monitoring.tests.servers import ROOT

GATEWAY_URL = "https://gateway.example/PaymentService/RequestHandler.svc"
EXPORT_URL = "https://gateway.example/exports/{cycle_code}.csv"


def compose_command() -> list[str]:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    assert legacy, "neither `docker compose` nor `docker-compose` is installed (.ci/run installs Debian's docker-compose)"
    return [legacy]


def compose_config(tmp_path) -> dict:
    for name in ("docker-compose.yml", "Dockerfile"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "deploy", tmp_path / "deploy")
    env = (ROOT / ".env.example").read_text()
    env = "\n".join(
        f"GATEWAY_URL={GATEWAY_URL}"
        if line.startswith("GATEWAY_URL=")
        else f"GATEWAY_BATCH_EXPORT_URL={EXPORT_URL}"
        if line.startswith("GATEWAY_BATCH_EXPORT_URL=")
        else line
        for line in env.splitlines()
    )
    (tmp_path / ".env").write_text(env + "\n")
    command = [*compose_command(), "--project-directory", str(tmp_path), "-f", str(tmp_path / "docker-compose.yml")]
    quiet = subprocess.run([*command, "config", "-q"], capture_output=True, text=True, timeout=60)
    assert quiet.returncode == 0, quiet.stderr
    full = subprocess.run([*command, "config"], capture_output=True, text=True, timeout=60, check=True)
    return yaml.safe_load(full.stdout)


def test_the_compose_file_is_valid_and_has_the_production_shape(tmp_path):
    config = compose_config(tmp_path)
    services = config["services"]

    assert set(services) == {"postgres", "redis", "gateway-sandbox", "migrate", "web", "proxy", "worker", "beat"}
    for name in ("web", "worker", "beat", "migrate", "gateway-sandbox"):
        environment = services[name]["environment"]
        # The gateway's address comes from .env, never overridden by the compose file.
        assert environment["GATEWAY_URL"] == GATEWAY_URL, name
        assert environment["GATEWAY_BATCH_EXPORT_URL"] == EXPORT_URL, name
        assert environment["DATABASE_URL"].startswith("postgres://chargepay:chargepay@postgres:5432/")
        assert environment["PROMETHEUS_MULTIPROC_DIR"] == "/var/lib/chargepay/metrics"
    assert "/health/ready" in " ".join(services["web"]["healthcheck"]["test"])
    assert "inspect ping" in " ".join(services["worker"]["healthcheck"]["test"])
    assert services["web"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["proxy"]["depends_on"]["web"]["condition"] == "service_healthy"
    assert "ports" not in services["web"]  # only through the proxy
    [mount] = services["proxy"]["volumes"]
    mount_source = mount["source"] if isinstance(mount, dict) else mount.split(":")[0]
    assert mount_source.endswith("deploy/nginx.conf")
    assert services["web"]["environment"]["NUM_PROXIES"] in ("1", 1)


def test_the_image_leaves_secrets_and_local_state_out():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".env", ".venv", ".data", "*.sqlite3", ".git"} <= ignored
