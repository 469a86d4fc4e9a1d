#!/usr/bin/env bash
# The report test opens the rehearsal's HTML page in headless Chromium
# (Debian's package: test tools that download their own browser cannot work
# here). Installs it when missing and we may (root with apt-get); otherwise
# says how, and the report test fails with the same hint.
set -euo pipefail
command -v chromium >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian's chromium for the report test…"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "Could not install chromium; install it with: apt-get install chromium" >&2
else
  echo "chromium is not installed: the report test needs it (apt-get install chromium)" >&2
fi
exit 0
