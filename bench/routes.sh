#!/usr/bin/env bash
# Issue 3 benchmark: the gateway with no routes, with a file route + a forward-http route to a
# local nginx, the same with four transforms, and one route with the transforms whose handler
# stops every event (routing + dispatch + transforms, no delivery I/O), in ONE run (unpinned,
# c64), then prints ratios.
# The file route's line count shows deliveries keep up ("spool lines / 2xx" column).
#   bench/routes.sh [extra run.sh options]
set -euo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
swift build -c release --package-path "$ROOT" >&2
OUT=${OUT:-$BENCH/results/routes-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
export BENCH_CACHE=${BENCH_CACHE:-$BENCH/.cache}
COMMON=(--out "$OUT" --fresh --modes c64 --pin off "$@")
"$BENCH/run.sh" "${COMMON[@]}" --name core --url http://127.0.0.1:18090/webhooks/evo \
  --start "exec '$BENCH/peers/gateway/start.sh'"
"$BENCH/run.sh" "${COMMON[@]}" --name routes --url http://127.0.0.1:18091/webhooks/evo \
  --start "exec '$BENCH/peers/gateway-routes/start.sh'" --count-lines out/audit.jsonl
TRANSFORMS=1 "$BENCH/run.sh" "${COMMON[@]}" --name routes-transforms --url http://127.0.0.1:18092/webhooks/evo \
  --start "TRANSFORMS=1 exec '$BENCH/peers/gateway-routes/start.sh'" --count-lines out/audit.jsonl
MODE=filter "$BENCH/run.sh" "${COMMON[@]}" --name routing-only --url http://127.0.0.1:18094/webhooks/evo \
  --start "MODE=filter exec '$BENCH/peers/gateway-routes/start.sh'"
python3 "$BENCH/tools/summarize.py" "$OUT/results.tsv" --ratio-to core | tee "$OUT/ratios.md"
"$ROOT/.build/release/gateway-microbench" 100000 | tee -a "$OUT/ratios.md"
