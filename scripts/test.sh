#!/usr/bin/env bash
# The whole check, exactly as CI runs it (.ci/run calls `make test`, which calls this script):
#   1. a virtualenv (.venv, or $VENV) with the package and its test extras;
#   2. the npm packages (bpmn-js), the studio bundle (npm run build) and Chromium for the browser tests (apt-get, when
#      /usr/bin/chromium is missing);
#   3. PostgreSQL and Redis answering (started here when they are down; failing if they stay down);
#   4. ruff, then the test suite on SQLite, then again on PostgreSQL.
# Any failure exits non-zero; pytest's "no tests collected" (exit 5) counts as a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
PG_URL=${PMO_TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}
REDIS_URL=${PMO_TEST_REDIS_URL:-redis://127.0.0.1:6379/15}
PY="$VENV/bin/python"

step() { printf '\n==> %s\n' "$*"; }
die() { printf 'test.sh: %s\n' "$*" >&2; exit 1; }

step "virtualenv $VENV"
[ -x "$PY" ] || "$PYTHON" -m venv "$VENV"
"$PY" -m pip install --quiet --disable-pip-version-check -e '.[test]'

step "npm packages (bpmn-js, dmn-js: the browser tests draw diagrams with them)"
command -v npm >/dev/null || die "npm is missing (install Node.js and npm)"
npm install --no-audit --no-fund --loglevel=error || die "npm install failed"

step "studio bundle (npm run build: frontend/ into app/web/static/build/)"
npm run build || die "the studio bundle did not build"

step "chromium"
if [ ! -x /usr/bin/chromium ]; then
    export DEBIAN_FRONTEND=noninteractive
    # Refresh the package lists only if the install fails without them.
    apt-get install -y chromium || { apt-get update && apt-get install -y chromium; } \
        || die "could not install chromium (needed by the browser tests)"
fi
[ -x /usr/bin/chromium ] || die "/usr/bin/chromium is missing"

step "PostgreSQL ($PG_URL)"
if ! "$PY" scripts/check_services.py postgres "$PG_URL" 2>/dev/null; then
    echo "PostgreSQL is down; starting it"
    if [ -d /etc/postgresql ]; then
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start || true
    fi
    for _ in $(seq 1 20); do
        "$PY" scripts/check_services.py postgres "$PG_URL" 2>/dev/null && break
        sleep 0.5
    done
    "$PY" scripts/check_services.py postgres "$PG_URL" || die "PostgreSQL is still down"
fi

step "Redis ($REDIS_URL)"
if ! "$PY" scripts/check_services.py redis "$REDIS_URL" 2>/dev/null; then
    echo "Redis is down; starting it"
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
    for _ in $(seq 1 20); do
        "$PY" scripts/check_services.py redis "$REDIS_URL" 2>/dev/null && break
        sleep 0.5
    done
    "$PY" scripts/check_services.py redis "$REDIS_URL" || die "Redis is still down"
fi

run_pytest() {
    local rc=0
    "$VENV/bin/pytest" "$@" || rc=$?
    if [ "$rc" -eq 5 ]; then
        die "pytest collected no tests"
    elif [ "$rc" -ne 0 ]; then
        die "pytest failed (exit $rc)"
    fi
}

step "ruff"
"$VENV/bin/ruff" check .

step "tests on SQLite"
(export PMO_TEST_DATABASE_URL="" PMO_TEST_REDIS_URL="$REDIS_URL"; run_pytest -m "not scaleout")

step "tests on PostgreSQL, with Redis and real Celery workers (browser tests ran above)"
(export PMO_TEST_DATABASE_URL="$PG_URL" PMO_TEST_REDIS_URL="$REDIS_URL"; run_pytest -m "not browser")

step "all checks passed"
