#!/usr/bin/env bash
# Runs costbot's whole test suite, setting up what it needs on a fresh Debian machine first:
# PostgreSQL (installed from Debian's package if missing, started if down), moto 5.2.5, the
# AWS API emulator the collector tests talk to (installed with pip unless that release is),
# and Debian's Chromium and ChromeDriver for the browser test of `costbot demo`. CI (.ci/run)
# calls this same script.
set -euo pipefail
cd "$(dirname "$0")/.."

# Keep build output outside the clone so repeated runs reuse it.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/costbot-target}"
export DATABASE_URL="${DATABASE_URL:-postgres://postgres:postgres@127.0.0.1:5432/postgres}"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

ensure_postgres() {
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "== installing PostgreSQL (Debian package)"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq postgresql postgresql-client >/dev/null
  fi
  if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
    echo "== starting PostgreSQL"
    local version
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  fi
  for _ in $(seq 1 60); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
  pg_isready -h 127.0.0.1 -p 5432 -q || { echo "PostgreSQL did not start on 127.0.0.1:5432" >&2; exit 1; }
  # A fresh Debian cluster asks for a password over TCP; give postgres the one the URL carries.
  # (Where the cluster trusts loopback connections, as on the project's machines, this is a no-op.)
  if ! psql "$DATABASE_URL" -qtAc 'select 1' >/dev/null 2>&1; then
    as_root su postgres -c "psql -q -c \"ALTER USER postgres PASSWORD 'postgres'\""
  fi
}

# The moto release the AWS tests were last checked against (see the aws-sdk-cloudwatch pin in
# Cargo.toml); a different installed release is replaced by this one so every machine runs the same.
MOTO_VERSION=5.2.5

installed_moto_version() { python3 -c 'import moto; print(moto.__version__)' 2>/dev/null || true; }

ensure_moto() {
  if [ -z "${COSTBOT_MOTO_SERVER:-}" ]; then
    if [ "$(installed_moto_version)" != "$MOTO_VERSION" ]; then
      echo "== installing moto $MOTO_VERSION (pip install \"moto[server]==$MOTO_VERSION\")"
      if ! command -v python3 >/dev/null 2>&1 || ! python3 -m pip --version >/dev/null 2>&1; then
        as_root apt-get update -qq
        DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq python3 python3-pip >/dev/null
      fi
      local spec="moto[server]==$MOTO_VERSION"
      python3 -m pip install -q "$spec" 2>/dev/null || python3 -m pip install -q --break-system-packages "$spec"
      command -v pyenv >/dev/null 2>&1 && pyenv rehash || true
      [ "$(installed_moto_version)" = "$MOTO_VERSION" ] || { echo "moto $MOTO_VERSION did not install" >&2; exit 1; }
    fi
    COSTBOT_MOTO_SERVER=$(python3 -c 'import os,sys; print(os.path.join(os.path.dirname(sys.executable), "moto_server"))')
    [ -x "$COSTBOT_MOTO_SERVER" ] || COSTBOT_MOTO_SERVER=$(command -v moto_server || echo moto_server)
    export COSTBOT_MOTO_SERVER
  fi
  "$COSTBOT_MOTO_SERVER" --help >/dev/null 2>&1 || { echo "moto_server is not runnable: $COSTBOT_MOTO_SERVER" >&2; exit 1; }
}

ensure_chromium() {
  if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
    echo "== installing Chromium and ChromeDriver (Debian packages) for the browser test"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq chromium chromium-driver >/dev/null
  fi
}

ensure_postgres
ensure_moto
bash scripts/validate-deploy.sh   # deploy/: hadolint, kubernetes-validate, cfn-lint, systemd-analyze (seconds)
ensure_chromium
echo "== lint gate: cargo fmt --check, cargo clippy -D warnings"
cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings
echo "== cargo test (unit, integration, CLI, and a smoke pass of each benchmark)"
cargo test --all-targets --locked
