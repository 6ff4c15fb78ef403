# Shared by the scripts: a project-local virtual environment, installed once and refreshed when
# setup.cfg changes. Sourced, not run.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
SB="$VENV/bin/slotbandit"
# The benchmarks live in scripts/benchmarks, outside the installed packages.
export PYTHONPATH="$ROOT/scripts${PYTHONPATH:+:$PYTHONPATH}"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'slotbandit: %s\n' "$*" >&2; exit 1; }

ensure_venv() {
  local extras="${1:-cqlsh}"
  command -v python3 >/dev/null || die "python3 not found: install Python 3.9 or newer"
  if [ ! -x "$PY" ]; then
    say "creating .venv"
    python3 -m venv "$VENV" || die "cannot create .venv (on Debian: apt-get install python3-venv)"
  fi
  local stamp="$VENV/.installed-$extras"
  local want
  want="$(cat "$ROOT/setup.cfg" "$ROOT/pyproject.toml" | sha256sum | cut -c1-16)"
  if ! installed_with "$extras" "$want"; then
    say "installing slotbandit and its dependencies into .venv ($extras)"
    local log="$VENV/install.log"
    if ! "$PY" -m pip install --disable-pip-version-check -e "$ROOT[$extras]" >"$log" 2>&1; then
      tail -n 20 "$log" >&2
      die "installing the Python packages failed (full log: $log)"
    fi
    echo "$want" > "$stamp"
  fi
}

installed_with() {
  # True when an install of the current setup.cfg already holds every extra asked for
  # (./scripts/test installs test,cqlsh,spark: quickstart then needs nothing more).
  local wanted="$1" hash="$2" stamp extra
  for stamp in "$VENV"/.installed-*; do
    [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$hash" ] || continue
    local have=",${stamp##*/.installed-},"
    local missing=0
    for extra in ${wanted//,/ }; do
      [[ "$have" == *",$extra,"* ]] || missing=1
    done
    [ "$missing" = 0 ] && return 0
  done
  return 1
}

ensure_dev_secret() {
  # A stable development secret, so decision ids stay valid across restarts of quickstart.
  if [ -z "${SLOTBANDIT_SECRET:-}" ]; then
    mkdir -p "$ROOT/.data"
    [ -f "$ROOT/.data/secret" ] || "$PY" -c "import secrets; print(secrets.token_urlsafe(32))" > "$ROOT/.data/secret"
    SLOTBANDIT_SECRET="$(cat "$ROOT/.data/secret")"
    export SLOTBANDIT_SECRET
  fi
}

apt_install() {
  # apt_install WHAT PACKAGE...: install Debian packages as root or with passwordless sudo.
  # Returns non-zero (after saying why) when that is not possible or the install fails.
  local what="$1"; shift
  local sudo=""
  command -v apt-get >/dev/null || { say "no apt-get: install $* with your package manager ($what)"; return 1; }
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo -n"
    else say "not root and no passwordless sudo: run 'sudo apt-get install $*' ($what)"; return 1
    fi
  fi
  say "installing $* ($what)"
  $sudo apt-get install -y "$@" >/dev/null 2>&1 \
    || { $sudo apt-get update >/dev/null 2>&1 && $sudo apt-get install -y "$@" >/dev/null 2>&1; } \
    || { say "installing $* failed: run 'sudo apt-get install $*' and look at its message"; return 1; }
}
