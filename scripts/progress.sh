#!/usr/bin/env bash
# progress.sh LABEL CMD...: runs CMD and, while it runs, prints
# "LABEL: still at it (N s)" every PROGRESS_EVERY seconds (15), so a long
# first build or install is never a silent wait. Exits with CMD's status.
set -uo pipefail
label=$1
shift
every=${PROGRESS_EVERY:-15}
start=$SECONDS
(
  nap=
  trap 'kill $nap 2>/dev/null; exit 0' TERM
  while :; do
    sleep "$every" &
    nap=$!
    wait $nap
    echo "$label: still at it ($((SECONDS - start)) s)"
  done
) &
ticker=$!
trap 'kill "$ticker" 2>/dev/null' EXIT
"$@"
