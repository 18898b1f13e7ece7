#!/usr/bin/env bash
# The email-in tests and bench/ingest.py start a real Dovecot IMAP server (tests/dovecot.py).
set -euo pipefail
if command -v dovecot >/dev/null 2>&1 || [ -x /usr/sbin/dovecot ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Dovecot for the email-in tests (apt-get)…"
  apt-get update -qq
  # policy-rc.d-less containers would start the system service: it is not needed, the tests
  # start their own on a free port.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-imapd >/dev/null
else
  echo "Dovecot is missing: install it (sudo apt-get install dovecot-imapd); the email-in tests need it." >&2
  exit 1
fi
