#!/usr/bin/env bash
# The shell plugin through the whole gateway: a route whose only handler runs /bin/true
# (maxConcurrent 8, route concurrency 8). wrk sends signed notifications for LOAD seconds
# (default 3), then the backlog drains with nothing else running; the rate is the deliveries
# (processes started and reaped) per second during that drain, read from /metrics.
# bench/shell.sh measures the plugin alone beside xargs; this adds the spool, the route's
# workers and the delivery bookkeeping around every process.
#
#   bench/shell-gateway.sh [LOAD_SECONDS]
# Needs: wrk, curl, python3; a release build. Loopback only; bounded by wrk -d and a 120 s drain.
set -euo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
LOAD=${1:-3}
BIN=${GATEWAY_BIN:-$ROOT/.build/release/gateway}
KEY=evo-bench-sign-key-0123456789abcdef
CACHE=${BENCH_CACHE:-/dev/shm/gateway-bench-cache}
mkdir -p "$CACHE/reqs"
REQS=$CACHE/reqs/shell-gateway-30000.wrkreq
[ -s "$REQS" ] || python3 "$BENCH/make_requests.py" -n 30000 --path /webhooks/evo --key "$KEY" --sign-type SHA256 --seed 31 -o "$REQS" >&2
RUN=$(mktemp -d /dev/shm/gw-shell-gateway.XXXXXX)
GPID=""
cleanup() { [ -n "$GPID" ] && kill -TERM -- "-$GPID" 2>/dev/null; wait 2>/dev/null; rm -rf "$RUN"; }
trap cleanup EXIT
cat > "$RUN/gateway.yaml" <<YAML
server:
  listen: 127.0.0.1:18096
admin:
  listen: 127.0.0.1:18097
spool:
  dir: $RUN/spool
sources:
  - name: evo
    path: /webhooks/evo
    signKey: "$KEY"
    maxMetadataLength: 1024
    dedupWindowSeconds: 0
routes:
  - name: hook
    events: ["*"]
    handlers:
      - plugin: shell
        with: { command: ["/bin/true"], maxConcurrent: 8, timeoutMs: 10000 }
    concurrency: 8
log:
  level: warning
YAML
setsid "$BIN" serve --config "$RUN/gateway.yaml" > "$RUN/gateway.log" 2>&1 &
GPID=$!
for _ in $(seq 100); do curl -fs http://127.0.0.1:18097/readyz >/dev/null 2>&1 && break; sleep 0.1; done
delivered() {
  curl -fs http://127.0.0.1:18097/metrics | awk '/^gateway_deliveries_total\{/ && /route="hook"/ && /outcome="delivered"/ {s += $NF} END {print s + 0}'
}
pending() {
  curl -fs http://127.0.0.1:18097/metrics | awk '/^gateway_deliveries_pending\{/ && /route="hook"/ {s += $NF} END {print s + 0}'
}
EVO_QUIET=1 timeout -k 5 60 wrk -t1 -c8 -d"${LOAD}s" -s "$BENCH/evo.lua" http://127.0.0.1:18096/webhooks/evo -- "$REQS" 1 > "$RUN/wrk.txt"
acked=$(awk '/^Requests\/sec/ {next} /requests in/ {print $1}' "$RUN/wrk.txt")
t1=$(date +%s.%N); d1=$(delivered)
deadline=$((SECONDS + 120))
while [ "$(pending)" != 0 ] && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
t2=$(date +%s.%N); d2=$(delivered)
python3 - "$acked" "$d1" "$d2" "$t1" "$t2" <<'PY'
import sys
acked, d1, d2 = (int(float(x)) for x in sys.argv[1:4]); t1, t2 = float(sys.argv[4]), float(sys.argv[5])
print(f"acknowledged {acked}; delivered {d2} ({d2 - d1} during the drain of {t2 - t1:.2f} s)")
print(f"processes/s through the gateway (drain): {(d2 - d1) / (t2 - t1):.0f}")
PY
