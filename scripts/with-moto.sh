#!/usr/bin/env bash
# Runs a command with a moto server (DynamoDB, Streams, S3, KMS) on a free loopback
# port, unless AWS_ENDPOINT_URL already names one; stops it afterwards. The launcher
# is local/moto's, the same the tests and the local stack use (local/cmd/withmoto).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$(mktemp "${TMPDIR:-/tmp}/withmoto.XXXXXX")
trap 'rm -f "$bin"' EXIT
(cd "$root" && go build -o "$bin" ./local/cmd/withmoto)
"$bin" "$@"
