#!/usr/bin/env bash
# `make loadtest`: serve DATA on a free local port, run the clinic day against it, stop the server.
# Usage: loadtest/run_local.sh DATA_DIR [extra locust arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
data="$1"; shift
port="$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
state="$(mktemp -d)"
# A load test's deliberate misses from few clinics would trip the probing limits (429).
ONSHI_MISS_LIMIT=0 ONSHI_KEY_MISS_LIMIT=0 ONSHI_STATE_DIR="$state" .venv/bin/onshi serve --data "$data" --port "$port" >"$state/serve.log" 2>&1 &
server=$!
stop() { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$state"; }
trap stop EXIT
for _ in $(seq 1 240); do
  if .venv/bin/python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/v1/readyz', timeout=1)" 2>/dev/null; then break; fi
  kill -0 "$server" 2>/dev/null || { cat "$state/serve.log"; exit 1; }
  sleep 0.5
done
status=0
ONSHI_DATA="$data" .venv/bin/locust --config loadtest/locust.conf --host "http://127.0.0.1:$port" "$@" || status=$?
stop
trap - EXIT
exit "$status"
