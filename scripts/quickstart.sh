#!/usr/bin/env bash
# make run: start the embedded PostgreSQL (scripts/dev_postgres.py) unless the caller's DATABASE_URL names a database,
# migrate, load the demo data, print curl commands, then serve with the gateway sandbox and the charge sweeper
# beside the dev server. When the dev server ends (Ctrl-C, a kill, or on its own) the sandbox, the sweeper and the
# embedded PostgreSQL stop with it; the data stays in .data/postgres for the next run.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-.venv/bin}
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
SANDBOX_PORT=${SANDBOX_PORT:-8099}
WEBHOOK_PORT=${WEBHOOK_PORT:-8098}
# The quickstart ignores the shell's Redis and debug settings: eager Celery, an in-memory cache, DEBUG on.
unset REDIS_URL DEBUG CELERY_TASK_ALWAYS_EAGER

embedded="" sandbox="" listener="" sweeper="" server=""
stop_all() {
  # A second Ctrl-C must not cut the database's shutdown short.
  trap '' INT TERM HUP
  # runserver's autoreloader ends the serving child when it gets SIGTERM.
  for pid in $server $sweeper $sandbox $listener; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ -n "$embedded" ]; then
    "$BIN/python" -m scripts.dev_postgres stop || true
  fi
}
trap stop_all EXIT
# A signal ends the script, and so runs stop_all. Jobs a script starts in the background ignore Ctrl-C's SIGINT:
# stop_all ends them. The dev server runs as one of them so that `wait` returns when a signal arrives (a foreground
# command would hold the signal's trap back until it ended by itself).
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

if [ -z "${DATABASE_URL:-}" ]; then
  embedded=1
  DATABASE_URL=$("$BIN/python" -m scripts.dev_postgres start)
  export DATABASE_URL
fi
"$BIN/python" manage.py migrate --noinput -v0
"$BIN/python" manage.py seed_demo --json >.demo.json
HOST=$HOST PORT=$PORT ./scripts/print_curl.sh
if [ -n "$embedded" ]; then
  echo "Database: $DATABASE_URL (the embedded PostgreSQL, data in .data/postgres; manage.py finds it by default)"
  echo
fi

"$BIN/python" manage.py run_gateway_sandbox --host 127.0.0.1 --port "$SANDBOX_PORT" &
sandbox=$!
# PCS-001's webhook deliveries, verified and printed here (an endpoint at the listener is registered once).
"$BIN/python" manage.py webhook_listen --port "$WEBHOOK_PORT" --partner PCS-001 &
listener=$!
export GATEWAY_URL="http://127.0.0.1:$SANDBOX_PORT/PaymentService/RequestHandler.svc"
# No beat here: the sweeper finishes what a request left (a pending charge whose outcome the gateway did not give,
# a capture that failed for a moment), running the tasks eagerly in its own process, every minute as beat would.
"$BIN/python" manage.py sweep_card_charges --every 60 >/dev/null &
sweeper=$!
"$BIN/python" manage.py runserver "$HOST:$PORT" &
server=$!
wait "$server"
