#!/usr/bin/env bash
# The gateway with two routes, as issue 3's benchmark asks: every event to the `file` plugin
# (fsync off), and every event to `forward-http` pointing at a local nginx (started here, in the
# same process group, on 127.0.0.1:18085, answering 200). Optional TRANSFORMS=1 adds four
# transforms to the forwarding route. Counting lines of out/audit.jsonl gives the file route's
# deliveries (run.sh --count-lines out/audit.jsonl).
# MODE=filter instead runs one route with the four transforms whose only handler is a
# metadata-filter that stops every event: what routing and dispatch cost without any delivery
# I/O (the filter reads only `metadata`, which no transform touches: the transforms never run).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
BIN=${GATEWAY_BIN:-$ROOT/.build/release/gateway}
RUNDIR=${BENCH_RUNDIR:?}
mkdir -p "$RUNDIR/nginx" "$RUNDIR/out"
cat > "$RUNDIR/nginx/nginx.conf" <<NGINX
worker_processes 1;
pid $RUNDIR/nginx/nginx.pid;
error_log $RUNDIR/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $RUNDIR/nginx/body;
    server { listen 127.0.0.1:18085 backlog=4096; keepalive_requests 1000000; location / { return 200 "ok"; } }
}
NGINX
/usr/sbin/nginx -p "$RUNDIR/nginx" -c "$RUNDIR/nginx/nginx.conf" -e "$RUNDIR/nginx/error.log" -g 'daemon off;' &
TRANSFORM=""
if [ "${TRANSFORMS:-0}" = 1 ]; then
  TRANSFORM='    transform:
      - remove: [paymentMethod.card.holderName]
      - mask: [paymentMethod.card.first6No]
      - set: { "gateway.route": ledger, ref: "{{payment.merchantTransInfo.merchantTransID}}" }
      - keep: [eventCode, metadata, payment, paymentMethod, gateway, ref]'
fi
ROUTES='routes:
  - name: audit
    events: ["*"]
    handlers:
      - plugin: file
        with: { path: "'"$RUNDIR"'/out/audit.jsonl", fsync: false }
  - name: ledger
    events: ["*"]
'"$TRANSFORM"'
    handlers:
      - plugin: forward-http
        with: { url: "http://127.0.0.1:18085/ledger", timeoutMs: 5000 }
    concurrency: 8'
if [ "${MODE:-}" = filter ]; then
  ROUTES=$(grep -v '^#' "$HERE/routing-only.yaml")
fi
# routing-transforms: the same route and transforms with a file handler writing to /dev/null
# (the transforms run and the body is written; the delivery's I/O costs next to nothing): what
# routing and transforms cost in throughput, without a delivery's work (bench/instructions.sh's
# routing-file, in requests/s).
if [ "${MODE:-}" = transform-devnull ]; then
  ROUTES=$(grep -v '^#' "$HERE/routing-only.yaml" | sed '/plugin: metadata-filter/,$d'
    printf '      - plugin: file\n        with: { path: "/dev/null", fsync: false }\n')
fi
# routing-transforms-pure: the same route and transforms with a pure filter that reads the
# transformed body and drops every event (c-body-filter, a test plugin in C): the transforms run
# and the body is written on the receiving thread, before the store, and nothing is delivered:
# what routing and transforms alone cost in throughput.
if [ "${MODE:-}" = transform-pure ]; then
  ROUTES=$(grep -v '^#' "$HERE/routing-only.yaml" |
    sed -e 's/- plugin: metadata-filter/- plugin: c-body-filter/' \
      -e 's/with: { when: \[ { raw: { prefix: "no-such-prefix" } } \] }/with: { contains: "no-such-text" }/')
fi
cat > "$RUNDIR/gateway.yaml" <<YAML
server:
  listen: 127.0.0.1:${EVO_PORT:?}
  workers: ${BENCH_SERVER_CPUS:-0}
spool:
  dir: ${SPOOL_DIR:-$RUNDIR/spool}
sources:
  - name: evo
    path: ${EVO_PATH:?}
    signKey: "${EVO_KEY:?}"
    maxMetadataLength: 1024
    dedupWindowSeconds: ${DEDUP_WINDOW:-0}
$ROUTES
log:
  level: ${GATEWAY_LOG:-info}
YAML
for _ in $(seq 1 50); do (exec 3<>/dev/tcp/127.0.0.1/18085) 2>/dev/null && break; sleep 0.1; done
exec "$BIN" serve --config "$RUNDIR/gateway.yaml" > "$RUNDIR/gateway.log"
