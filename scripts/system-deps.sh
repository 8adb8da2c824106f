#!/usr/bin/env bash
# Debian packages the test suite and the web bench use: chromium (the browser tests drive it through
# Playwright; Playwright's own browser download cannot work on these machines) and wrk (`nvm bench web`).
set -euo pipefail

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing ${missing[*]} (Debian packages)"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null \
  || { $SUDO apt-get update -qq && $SUDO apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; }
