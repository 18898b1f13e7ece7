#!/usr/bin/env bash
# Start the web server and a django-q2 cluster together; Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}

pids=()
follower=""
cleanup() {
  trap - INT TERM EXIT
  echo
  echo "Stopping web server and worker…"
  [[ -n "$follower" ]] && kill -TERM "$follower" 2>/dev/null || true
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

$PY manage.py qcluster &
pids+=($!)
$PY manage.py runserver --noreload "$HOST:$PORT" &
pids+=($!)

# Let the worker's start-up lines pass first, so the banner is the last thing on screen.
sleep 3
cat <<MSG

  MemoryCRM is running at http://$HOST:$PORT/
  Log in as agent / memorycrm-agent (also: manager / memorycrm-manager, admin / memorycrm-admin).
  The worker (django-q2) scores sentiment in the background. Press Ctrl-C to stop.

MSG
# The expected wait for the first sentiment scores, until they come (a no-op once a model exists).
$PY manage.py ensure_sentiment_model --follow &
follower=$!
# Stop everything as soon as either process exits.
wait -n "${pids[@]}"
