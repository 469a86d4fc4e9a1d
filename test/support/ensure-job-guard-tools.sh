#!/usr/bin/env bash
# The job-guard tests run the wrapper under dash, bash and busybox ash, and
# take its lock with curl. Installs what is missing when we may (root with
# apt-get); otherwise says how (without busybox the ash runs are skipped;
# without curl the lock tests fail with curl's own message).
set -euo pipefail
missing=()
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v busybox >/dev/null 2>&1 || missing+=(busybox)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing ${missing[*]} for the job-guard tests…"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null) \
    || echo "Could not install ${missing[*]}; install with: apt-get install ${missing[*]}" >&2
else
  echo "${missing[*]} not installed: the job-guard tests need them (apt-get install ${missing[*]})" >&2
fi
exit 0
