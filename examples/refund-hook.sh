#!/bin/sh
# A stand-in for a legacy script, run by the `shell` plugin for refunds (see gateway.yaml).
# The gateway starts it without a shell, with the event JSON on stdin and GATEWAY_* variables in
# its environment; argument 1 is the merchant transaction ID. Exit 0 means "done".
set -eu
out="${REFUND_LOG:-./var/out/refunds.log}"
mkdir -p "$(dirname "$out")"
body=$(cat)
printf '%s refund %s attempt=%s bytes=%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$1" "$GATEWAY_ATTEMPT" "${#body}" >> "$out"
