#!/bin/sh
# The job itself: stops at the next safe point when asked (SIGQUIT from the
# image's STOPSIGNAL, SIGTERM or SIGINT), forwarded by job-guard.
stop=
trap 'stop=1' QUIT TERM INT
for chunk in $(seq 1 600); do
  # Non-zero: the pod fails with the DisruptionTarget condition, and the
  # CronJob's podFailurePolicy decides (exiting 0 would mark the run complete).
  [ -n "$stop" ] && { echo "interrupted after chunk $((chunk - 1))"; exit 1; }
  echo "chunk $chunk"
  sleep 6 & wait $!   # a builtin wait returns at once on a trapped signal
done
