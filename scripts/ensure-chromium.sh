#!/usr/bin/env bash
# Browser tests drive Debian's Chromium through Playwright (no browser download is possible).
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Chromium for the browser tests (apt-get)…"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
else
  echo "Chromium is missing: install it (sudo apt-get install chromium); the browser tests need it." >&2
  exit 1
fi
