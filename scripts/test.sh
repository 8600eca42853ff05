#!/usr/bin/env bash
# Install everything the tests need (Python packages, Debian's chromium for the
# browser tests, dovecot-imapd for the e-mail integration test and gettext for the
# check that every marked string has its German translation) and run the whole
# suite. Uses PostgreSQL when DATABASE_URL is set, SQLite otherwise. Extra arguments go
# to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
# Only what is missing: a machine whose Node.js comes with its own npm (NodeSource's
# nodejs package) cannot take Debian's npm beside it.
PKGS=""
[ -x /usr/bin/chromium ] || PKGS="$PKGS chromium"
[ -x /usr/sbin/dovecot ] || PKGS="$PKGS dovecot-imapd"
[ -x /usr/bin/msgfmt ] || PKGS="$PKGS gettext"
command -v npm >/dev/null || PKGS="$PKGS npm"
if [ -n "$PKGS" ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $PKGS >/dev/null
fi
# axe-core for the accessibility checks of the browser tests (tests/browser/test_accessibility.py).
if [ ! -f .axe/node_modules/axe-core/axe.min.js ]; then
  npm install --no-save --silent --prefix .axe axe-core@4
fi
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/pip install --quiet --upgrade pip
.venv/bin/pip install --quiet -e '.[test]'
.venv/bin/ruff check .
.venv/bin/lint-imports --no-cache  # the layers of design.md (pyproject.toml)
.venv/bin/python manage.py makemigrations --check --dry-run --settings=helpdesk.settings_test
exec .venv/bin/pytest "$@"
