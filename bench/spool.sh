#!/usr/bin/env bash
# Issue 4 benchmark: the gateway with its spool on disk (fsync per group commit), the same with
# the spool on tmpfs (/dev/shm: syncs cost nothing), and nginx, in ONE run; c64 for throughput,
# c1 for unloaded ack latency. Then the ack latency at about half of the peak rate (wrk2-style
# pacing is not available: wrk with 8 connections is used as the "half load" point).
#   bench/spool.sh [extra run.sh options]
set -euo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
swift build -c release --package-path "$ROOT" >&2
OUT=${OUT:-$BENCH/results/spool-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
export BENCH_CACHE=${BENCH_CACHE:-$BENCH/.cache}
SHM=/dev/shm/gateway-bench-spool-$$
trap 'rm -rf "$SHM"' EXIT
COMMON=(--out "$OUT" --fresh --pin off "$@")
"$BENCH/run.sh" "${COMMON[@]}" --name spool-disk --url http://127.0.0.1:18090/webhooks/evo \
  --start "exec '$BENCH/peers/gateway/start.sh'"
"$BENCH/run.sh" "${COMMON[@]}" --name spool-tmpfs --url http://127.0.0.1:18090/webhooks/evo \
  --start "SPOOL_DIR=$SHM exec '$BENCH/peers/gateway/start.sh'"
"$BENCH/run.sh" "${COMMON[@]}" --name spool-disk-c8 --conns 8 --modes c64 --url http://127.0.0.1:18090/webhooks/evo \
  --start "exec '$BENCH/peers/gateway/start.sh'"
"$BENCH/run.sh" "${COMMON[@]}" --peer nginx
python3 "$BENCH/tools/summarize.py" "$OUT/results.tsv" --ratio-to spool-tmpfs | tee "$OUT/ratios.md"
