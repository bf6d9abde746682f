#!/usr/bin/env bash
# fuzz.sh FUZZTIME package:Target... fuzzes each target for FUZZTIME.
#
# Go 1.26's fuzz coordinator can report "context deadline exceeded" as a
# failure when -fuzztime ends while a worker is mid-run (go.dev/issue/75804,
# fixed in Go 1.27). That report comes with no failing input. A target that
# fails that way, and only that way, is run once more; any other failure, and
# every failure that wrote a failing input, fails at once.
set -uo pipefail
fuzztime=$1
shift
for t in "$@"; do
  pkg=./${t%%:*} name=${t#*:}
  for attempt in 1 2; do
    out=$(go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -fuzzminimizetime 1s -parallel 2 "$pkg" 2>&1)
    status=$?
    printf '%s\n' "$out"
    [ "$status" -eq 0 ] && break
    if [ "$attempt" -eq 1 ] && grep -q 'context deadline exceeded' <<<"$out" &&
      ! grep -qE 'Failing input written|panic:|_test\.go:[0-9]+:' <<<"$out"; then
      echo "fuzz: $name stopped on the Go fuzz coordinator's deadline race (go.dev/issue/75804), no failing input; running it again"
      continue
    fi
    exit "$status"
  done
done
