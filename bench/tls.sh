#!/usr/bin/env bash
# What TLS costs: the gateway over plain HTTP and over TLS (TLS 1.3, the test certificate), both
# with the spool on tmpfs (so the difference is TLS, not the disk), and nginx, in ONE run; c64
# keeps its connections (wrk), so this is the cost of encryption, not of handshakes.
#   bench/tls.sh [extra run.sh options]
set -euo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
swift build -c release --package-path "$ROOT" >&2
OUT=${OUT:-$BENCH/results/tls-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
export BENCH_CACHE=${BENCH_CACHE:-$BENCH/.cache}
SHM=/dev/shm/gateway-bench-tls-$$
trap 'rm -rf "$SHM"' EXIT
COMMON=(--out "$OUT" --fresh --pin off "$@")
"$BENCH/run.sh" "${COMMON[@]}" --name plain --url http://127.0.0.1:18090/webhooks/evo \
  --start "SPOOL_DIR=$SHM/plain exec '$BENCH/peers/gateway/start.sh'"
"$BENCH/run.sh" "${COMMON[@]}" --name tls --url https://127.0.0.1:18090/webhooks/evo \
  --start "TLS=1 SPOOL_DIR=$SHM/tls exec '$BENCH/peers/gateway/start.sh'"
"$BENCH/run.sh" "${COMMON[@]}" --peer nginx
python3 "$BENCH/tools/summarize.py" "$OUT/results.tsv" --ratio-to plain | tee "$OUT/ratios.md"
