#!/usr/bin/env bash
# Install everything and start a working helpdesk (web + Celery worker + beat) on the
# embedded default: SQLite and a file-system Celery broker, with demo data and logins.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
PORT=${PORT:-8000}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/pip install --quiet --upgrade pip
.venv/bin/pip install --quiet -e .
export DEBUG=${DEBUG:-1}
# The demo logins sign in without an authenticator app; two-factor stays available at
# /accounts/2fa/setup/. Set TWO_FACTOR_REQUIRED_ROLES=admin,manager to try enforcement.
export TWO_FACTOR_REQUIRED_ROLES=${TWO_FACTOR_REQUIRED_ROLES-}
export PORT
unset DATABASE_URL CELERY_BROKER_URL REDIS_URL
.venv/bin/python manage.py migrate --no-input
.venv/bin/python manage.py demo
echo
echo "Helpdesk is starting on http://127.0.0.1:${PORT}/  (API docs: /api/docs/, admin: /admin/)"
echo "Press Ctrl+C to stop web, worker and beat."
exec .venv/bin/honcho -f Procfile start
