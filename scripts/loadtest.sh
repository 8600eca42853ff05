#!/usr/bin/env bash
# Bounded load test on 127.0.0.1: gunicorn (4 workers) + a Celery worker on PostgreSQL and
# Redis, driven by locust headless with the mix in loadtest/locustfile.py. Prints
# throughput, p50/p95/p99 per request and errors; exits 1 on any error or when the queue
# page's p95 is over 150 ms.
#
#   ./scripts/loadtest.sh                      # 50 users, 60 s, on helpdesk_bench
#   USERS=10 DURATION=10s ./scripts/loadtest.sh
#
# Environment (defaults): DATABASE_URL (postgres://postgres@127.0.0.1:5432/helpdesk_bench,
# a database seeded with `manage.py seed_data` - 1,000,000 tickets for the figures in the
# README), REDIS_URL (redis://127.0.0.1:6379/7), USERS (50), SPAWN_RATE (10),
# DURATION (60s), WEB_WORKERS (4), CELERY_NICE (10), QUEUE_P95_MS (150), OUT (var/loadtest),
# WARMUP (20s), SKIP_MIGRATE (0). Needs the `load` extra: pip install -e '.[load]'.
set -euo pipefail
cd "$(dirname "$0")/.."

export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/helpdesk_bench}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/7}
export CELERY_BROKER_URL=$REDIS_URL
export DEBUG=0 SECRET_KEY=${SECRET_KEY:-loadtest-secret-key-not-for-production}
export SECURE_SSL_REDIRECT=0 ALLOWED_HOSTS=127.0.0.1
# Behind a reverse proxy in production: each simulated person has their own address.
export TRUSTED_PROXY_COUNT=1
export EMAIL_BACKEND=django.core.mail.backends.dummy.EmailBackend
export LOG_LEVEL=WARNING
USERS=${USERS:-50}
SPAWN_RATE=${SPAWN_RATE:-10}
DURATION=${DURATION:-60s}
WEB_WORKERS=${WEB_WORKERS:-4}
QUEUE_P95_MS=${QUEUE_P95_MS:-150}
OUT=${OUT:-var/loadtest}
PY=.venv/bin/python

if ! .venv/bin/python -c "import locust" 2>/dev/null; then
  .venv/bin/pip install --quiet -e '.[load]'
fi
mkdir -p "$OUT"
PORT=$($PY -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT

if [ "${SKIP_MIGRATE:-0}" != 1 ]; then
  echo "== migrate and collectstatic"
  $PY manage.py migrate --no-input >"$OUT/migrate.log"
fi
$PY manage.py collectstatic --no-input >"$OUT/collectstatic.log"

echo "== accounts"
$PY loadtest/prepare.py "$OUT/accounts.json" --agents 40 --customers 40 --api 10

echo "== gunicorn ($WEB_WORKERS workers) on 127.0.0.1:$PORT and a Celery worker"
# The access log keeps each request's server-side time (microseconds), to tell time spent
# in the web workers from time spent queueing for one or in the load generator.
.venv/bin/gunicorn helpdesk.wsgi --bind "127.0.0.1:$PORT" --workers "$WEB_WORKERS" \
  --access-logfile "$OUT/access.log" --access-logformat '%(m)s %(U)s %(q)s %(s)s %(D)s' \
  --error-logfile "$OUT/gunicorn.log" &
pids+=($!)
# Background work yields the CPU to requests people wait for, as a production unit would
# run it (systemd Nice=10): the after-commit handlers of replies and new tickets.
nice -n "${CELERY_NICE:-10}" .venv/bin/celery -A helpdesk worker --concurrency 1 \
  --loglevel WARNING >"$OUT/celery.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null

# Warm-up (not measured): every gunicorn worker imports its views and templates and
# PostgreSQL's cache takes in the hot indexes, as on a server that has been up a while.
echo "== warm-up: ${WARMUP:-20s}"
LOADTEST_ACCOUNTS="$OUT/accounts.json" timeout 300 .venv/bin/locust -f loadtest/locustfile.py \
  --headless --host "http://127.0.0.1:$PORT" -u 10 -r 10 -t "${WARMUP:-20s}" \
  --only-summary --loglevel WARNING >"$OUT/warmup.log" 2>&1 || true

# CPU seconds used so far by the web workers, the Celery worker and PostgreSQL (locust: its own
# time below), to say where the two cores went during the measured run.
cpu_by_part() { $PY loadtest/cpu.py; }
: >"$OUT/access.log"  # the measured run only
cpu_before=$(cpu_by_part)
echo "== locust: $USERS users (spawn $SPAWN_RATE/s) for $DURATION"
TIMEFORMAT='%U %S'  # the load generator's own CPU seconds (user, system), from bash's time
{ time LOADTEST_ACCOUNTS="$OUT/accounts.json" timeout 600 .venv/bin/locust \
  -f loadtest/locustfile.py --headless --host "http://127.0.0.1:$PORT" -u "$USERS" \
  -r "$SPAWN_RATE" -t "$DURATION" --csv "$OUT/run" --only-summary --loglevel WARNING \
  >"$OUT/locust.log" 2>&1 || true; } 2>"$OUT/locust.time"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
locust_cpu=$(awk '{printf "%.1f", $1 + $2}' "$OUT/locust.time")
echo "$cpu_before $(cpu_by_part) $locust_cpu" | awk '{printf "CPU seconds during the run: \
web %.1f, Celery %.1f, locust %.1f, PostgreSQL %.1f\n", $4 - $1, $5 - $2, $7, $6 - $3}'
$PY loadtest/report.py "$OUT/run" --queue-p95-ms "$QUEUE_P95_MS" --access-log "$OUT/access.log"
