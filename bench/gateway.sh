#!/usr/bin/env bash
# Benchmark the gateway side by side with nginx in ONE run (same box state), as DEVELOPERS.md asks.
#
#   bench/gateway.sh                      # release build, then gateway + nginx, pinned and unpinned
#   bench/gateway.sh --reps 1 --modes c64 # extra options go to run.sh for both peers
#
# Needs: apt-get install -y wrk nginx-light; python3. Loopback only; every run is bounded by wrk -d.
# Output: bench/results/gateway-<time>/ with results.tsv, summary.md and ratios.md (gateway / nginx).
set -euo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
command -v wrk >/dev/null && command -v nginx >/dev/null || { echo "needs: apt-get install -y wrk nginx-light" >&2; exit 2; }
swift build -c release --package-path "$ROOT" >&2
OUT=${OUT:-$BENCH/results/gateway-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
export BENCH_CACHE=${BENCH_CACHE:-$BENCH/.cache}
"$BENCH/run.sh" --out "$OUT" --name gateway --url http://127.0.0.1:18090/webhooks/evo \
  --start "exec '$BENCH/peers/gateway/start.sh'" --fresh --pin both "$@"
"$BENCH/run.sh" --out "$OUT" --peer nginx --pin both "$@"
python3 "$BENCH/tools/summarize.py" "$OUT/results.tsv" --ratio-to nginx | tee "$OUT/ratios.md"
"$BENCH/idle_rss.sh" | tee -a "$OUT/ratios.md"
