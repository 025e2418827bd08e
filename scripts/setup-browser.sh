#!/usr/bin/env bash
# Installs the browser for the upload-page browser test (tests/browser/):
# Debian's chromium at /usr/bin/chromium. Playwright's own browser download
# is not used (it needs a host we cannot reach); playwright-core drives the
# system chromium instead. Idempotent; quick when chromium is there.
set -euo pipefail
say() { printf '\033[36m[setup-browser]\033[0m %s\n' "$*"; }

CHROMIUM=${CHROMIUM_PATH:-/usr/bin/chromium}
if [ -x "$CHROMIUM" ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-browser: $CHROMIUM is missing and apt-get is not available; install chromium by hand" >&2
  exit 1
fi
SUDO=
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "setup-browser: $CHROMIUM is missing; run as root or install the Debian package chromium" >&2
    exit 1
  fi
fi
say "installing Debian chromium (apt-get)"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || true
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-wqy-zenhei >/dev/null
"$CHROMIUM" --version
