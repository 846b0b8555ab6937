"""Private servers for the operations tests, each on free loopback ports and in a temporary folder, started and
stopped by the test (never the machine's PostgreSQL, Redis or nginx): redis-server, a PostgreSQL cluster
(initdb/pg_ctl of the machine's PostgreSQL packages), gunicorn serving the app with `gunicorn.conf.py`, and nginx
with the repository's `deploy/nginx.conf`."""

import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str, timeout: float = 5.0, headers: dict | None = None) -> tuple[int, bytes]:
    """(status, body) of a GET on a new connection."""
    response = requests.get(url, timeout=timeout, headers={"Connection": "close", **(headers or {})})
    return response.status_code, response.content


def get_json(url: str, timeout: float = 5.0) -> tuple[int, dict]:
    status, body = get(url, timeout)
    return status, json.loads(body)


def _wait(predicate, timeout: float, what: str, details=lambda: "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not ready after {timeout}s\n{details()}")
        time.sleep(0.1)


def _stop(proc: subprocess.Popen | None, timeout: float = 10, how: int = signal.SIGTERM) -> None:
    if proc is None or proc.poll() is not None:
        return
    os.killpg(proc.pid, how)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


class PrivateRedis:
    def __init__(self, workdir: Path):
        self.workdir, self.port = workdir, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "PrivateRedis":
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.proc = subprocess.Popen(
            [*args, "--dir", str(self.workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        _wait(self._answers, 10, "redis-server")
        return self

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        _stop(self.proc)


def _postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    assert found, "PostgreSQL's server programs (/usr/lib/postgresql/*/bin) are missing"
    return Path(found[-1]).parent


class PrivatePostgres:
    """A throw-away cluster: initdb in `workdir`, trust authentication, loopback only. PostgreSQL refuses to run as
    root, so under root the cluster belongs to the unprivileged `postgres` user the Debian packages create."""

    def __init__(self, workdir: Path):
        self.bin = _postgres_bin()
        self.workdir = workdir
        self.data = workdir / "pgdata"
        self.port = free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/chargepay"
        self._user = "postgres" if os.geteuid() == 0 else None

    def _run(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        command = [str(a) for a in args]
        if self._user:
            command = ["runuser", "-u", self._user, "--", *command]
        return subprocess.run(command, check=True, capture_output=True, text=True, timeout=120, **kwargs)

    def init(self) -> "PrivatePostgres":
        if self._user:
            entry = pwd.getpwnam(self._user)
            # The unprivileged owner walks down to its data folder through the test's temporary folders.
            os.chmod(self.workdir, 0o755)  # noqa: S103 (a throw-away test folder)
            for parent in self.workdir.parents:
                if parent.is_relative_to(tempfile.gettempdir()) and parent.stat().st_uid == 0:
                    os.chmod(parent, parent.stat().st_mode | 0o011)  # noqa: S103 (traverse only, no listing)
            os.chown(self.workdir, entry.pw_uid, entry.pw_gid)
        self._run(self.bin / "initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        return self

    def start(self) -> "PrivatePostgres":
        options = f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.workdir} -c fsync=off"
        self._run(self.bin / "pg_ctl", "-D", self.data, "-o", options, "-l", self.workdir / "server.log", "-w", "start")
        return self

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(self.bin / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")

    def psql(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        return self._run(self.bin / "psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", *args, **kwargs)

    def copy_database(self, source_url: str, name: str = "chargepay") -> None:
        """A copy of `source_url`'s database (the migrated test database) as `name`: schema, functions, data."""
        self.psql("-d", "postgres", "-c", f'CREATE DATABASE "{name}"')
        dump = subprocess.run(
            [str(self.bin / "pg_dump"), "--no-owner", "--no-privileges", "-d", source_url],
            check=True,
            capture_output=True,
            timeout=120,
        )
        self._run(
            self.bin / "psql",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            name,
            input=dump.stdout.decode(),
        )


# What a production-like web process needs besides the database and Redis (DEBUG off, secrets set).
BASE_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "test-secret-key-not-for-production",
    "JWT_SIGNING_KEY": "test-jwt-signing-key-not-for-production",
    "SECURE_SSL_REDIRECT": "false",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "CELERY_TASK_ALWAYS_EAGER": "false",
    "PYTHONUNBUFFERED": "1",
}


class Gunicorn:
    """The app as production serves it: `gunicorn -c gunicorn.conf.py` from the repository, on a free port."""

    def __init__(self, workdir: Path, env: dict[str, str]):
        self.workdir, self.port = workdir, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **BASE_ENV, "GUNICORN_BIND": f"127.0.0.1:{self.port}", **env}
        self.log_path = workdir / f"gunicorn-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Gunicorn":
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [str(VENV_BIN / "gunicorn"), "chargepay.wsgi:application", "-c", "gunicorn.conf.py"],
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _wait(lambda: self._live() or self.proc.poll() is not None, 30, "gunicorn", self.log)
        assert self.proc.poll() is None, self.log()
        return self

    def _live(self) -> bool:
        try:
            return get(f"{self.url}/health/live", timeout=1)[0] == 200
        except requests.RequestException:
            return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        _stop(self.proc, how=signal.SIGQUIT)  # gunicorn's quick shutdown: no grace period for kept connections


TEMP_PATH_KINDS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


class Nginx:
    """Debian's nginx running `deploy/nginx.conf` with its own prefix folder, its listen port and upstream moved to
    loopback ports and its temporary files into the test's folder (the only edits: every timeout, buffer and limit
    is the file's)."""

    def __init__(self, workdir: Path, upstream_port: int):
        self.workdir, self.port = workdir, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        text = (ROOT / "deploy" / "nginx.conf").read_text()
        assert "server web:8000" in text and "listen 80;" in text
        text = text.replace("server web:8000", f"server 127.0.0.1:{upstream_port}").replace(
            "listen 80;", f"listen 127.0.0.1:{self.port};"
        )
        # Temporary files in the test's folder, not the system's (/var/lib/nginx): also lets a non-root user run it.
        temp_paths = "".join(f"    {kind}_temp_path {workdir}/{kind};\n" for kind in TEMP_PATH_KINDS)
        assert text.count("http {\n") == 1
        text = text.replace("http {\n", "http {\n" + temp_paths)
        self.conf = workdir / "nginx.conf"
        self.conf.write_text(text)
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Nginx":
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        globals_ = f"daemon off; pid {self.workdir}/nginx.pid;"
        if os.geteuid() == 0:
            globals_ += " user root;"  # the workers write request bodies to the test's root-owned folder
        log = open(self.workdir / "nginx.out", "wb")  # noqa: SIM115 (the subprocess owns it)
        self.proc = subprocess.Popen(
            [binary, "-p", f"{self.workdir}/", "-c", str(self.conf), "-e", f"{self.workdir}/error.log", "-g", globals_],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

        def answers() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return True
            except OSError:
                return self.proc.poll() is not None

        _wait(answers, 10, "nginx", lambda: (self.workdir / "nginx.out").read_text(errors="replace"))
        assert self.proc.poll() is None, (self.workdir / "nginx.out").read_text(errors="replace")
        return self

    def stop(self) -> None:
        _stop(self.proc)
