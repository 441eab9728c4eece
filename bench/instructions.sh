#!/usr/bin/env bash
# What a notification costs in user-space instructions, counted by valgrind (callgrind), for the
# gateway with no routes (core), with the routing-only route of bench/routes.sh (matching, a
# metadata-filter that stops every event, the delivery bookkeeping; its four transforms are
# never needed, so they do not run), with routing-key (the same route whose filter reads a key
# of the metadata, as a tenant split does: the metadata is parsed) and with routing-file (the
# same four transforms, then a file route: they run, the body is written; the write itself is
# the kernel's, not counted).
#
# Why: this machine is shared and noisy; req/s and CPU time of two runs a minute apart differ
# by 20-30%. Instruction counts do not depend on what else the host is doing: the same binary
# and the same requests give the same count. They leave out the kernel (syscalls, context
# switches), so they complement bench/routes.sh rather than replace it.
#
#   bench/instructions.sh [N]      # N notifications per variant (default 3000)
#   VARIANTS=core KEEP=1 bench/instructions.sh 2000   # one variant; keep the callgrind files
#   NO_BUILD=1 bench/instructions.sh                  # the binaries in .build/release as they are
#
# Each variant: start the gateway under callgrind (stripped copies of the binaries: valgrind
# 3.19 cannot read swiftc's DWARF 5), send W warm-up notifications (default 200) and stop it,
# then start it again, send W + N distinct signed notifications over one keep-alive connection
# and stop it. (total - warm) / N = instructions per notification in the steady state. The
# warm-up run takes out the fixed cost of start and stop and also the one-time costs of the
# first events: the Swift runtime's first protocol-conformance lookups after the plugins are
# dlopen'ed scan every conformance section (about 14 million instructions once, which at
# N=2000 would have added some 7,000 to each notification of a routed variant), first
# allocations of the arenas, lazily built tables.
set -euo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
N=${1:-3000}
WARM=${WARM:-200}
command -v valgrind >/dev/null || { echo "needs: apt-get install -y valgrind" >&2; exit 2; }
[ -n "${NO_BUILD:-}" ] || swift build -c release --package-path "$ROOT" >&2
WORK=$(mktemp -d /tmp/gw-instructions.XXXXXX)
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$WORK"' EXIT
cp "$ROOT"/.build/release/gateway "$ROOT"/.build/release/libgwplugin-*.so "$WORK"/
strip --strip-debug "$WORK"/gateway "$WORK"/libgwplugin-*.so
KEY=evo-bench-sign-key-0123456789abcdef
python3 "$BENCH/make_requests.py" -n "$((N + WARM))" --path /webhooks/evo --key "$KEY" --format jsonl -o "$WORK/requests.jsonl" -q

config() { # variant port
  cat <<YAML
server:
  listen: 127.0.0.1:$2
  workers: 1
spool:
  dir: $WORK/spool-$1
plugins:
  path: [$WORK]
sources:
  - name: evo
    path: /webhooks/evo
    signKey: "$KEY"
    maxMetadataLength: 1024
    dedupWindowSeconds: 0
log:
  level: info
  output: $WORK/$1.log
YAML
  if [ "$1" = routing-only ]; then cat "$BENCH/peers/gateway-routes/routing-only.yaml"; fi
  # The same route with the filter a tenant split uses (gateway.yaml): a key of the metadata,
  # which is JSON in a string (its text read, then parsed, then the key looked up).
  if [ "$1" = routing-key ]; then
    sed 's/{ raw: { prefix: "no-such-prefix" } }/{ key: storeName, equals: "no-such-store" }/' \
      "$BENCH/peers/gateway-routes/routing-only.yaml"
  fi
  # The same four transforms with a pure filter that reads the body (c-body-filter, a test
  # plugin in C) and drops every event: the transforms run and the body is written, on the
  # receiving thread, before the store, and nothing is delivered: routing and transforms alone.
  if [ "$1" = routing-transforms ]; then
    sed -e 's/- plugin: metadata-filter/- plugin: c-body-filter/' \
      -e 's/with: { when: \[ { raw: { prefix: "no-such-prefix" } } \] }/with: { contains: "no-such-text" }/' \
      "$BENCH/peers/gateway-routes/routing-only.yaml"
  fi
  # The same four transforms with a handler that reads the body (a file route): the transforms
  # run (routing-only's filter drops the event before anything needs them, so there they do not).
  if [ "$1" = routing-file ]; then
    grep -v '^#' "$BENCH/peers/gateway-routes/routing-only.yaml" | sed '/plugin: metadata-filter/,$d'
    printf '      - plugin: file\n        with: { path: "%s/out-{route}.jsonl", fsync: false }\n' "$WORK"
  fi
}

# Sends the first $3 requests of the file to 127.0.0.1:$2 over one connection; checks every answer.
send() {
  python3 - "$WORK/requests.jsonl" "$1" "$2" <<'PY'
import http.client, json, sys, time
path, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for _ in range(600):  # the gateway under valgrind starts slowly: up to 60 s
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30); c.connect(); break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit("gateway did not listen")
sent = 0
with open(path) as f:
    for line in f:
        if sent >= count: break
        r = json.loads(line)
        c.request(r["method"], r["path"], body=r["body"].encode(), headers=r["headers"])
        resp = c.getresponse(); body = resp.read()
        if resp.status != 200: sys.exit(f"answer {resp.status}: {body[:200]!r}")
        sent += 1
print(sent)
PY
}

# Runs one gateway under callgrind, sends $2 notifications, stops it; prints the instruction total.
measure() { # variant count
  local v=$1 count=$2 port=$((18400 + RANDOM % 500))
  config "$v" "$port" > "$WORK/$v.yaml"
  rm -rf "$WORK/spool-$v"
  SWIFT_BACKTRACE=enable=no valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.$v.$count" \
    "$WORK/gateway" serve --config "$WORK/$v.yaml" > "$WORK/vg.$v.$count.txt" 2>&1 &
  local pid=$!
  if [ "$count" -gt 0 ]; then send "$port" "$count" > /dev/null; else send "$port" 0 > /dev/null; fi
  # Deliveries and their outcome records finish before the stop (the route's work is counted).
  sleep 2
  kill -TERM "$pid"
  wait "$pid" || true
  grep -h "Collected" "$WORK/vg.$v.$count.txt" | awk '{print $4}' | tr -d ','
}

# Instructions spent in libcrypto (the signature's SHA-256) in one run's file.
crypto() { # callgrind file
  callgrind_annotate --threshold=100 "$1" 2>/dev/null | awk '/libcrypto\.so/ { gsub(",", "", $1); s += $1 } END { print s + 0 }'
}

# Why a second ratio: valgrind does not emulate the SHA extensions (SHA-NI), so under it OpenSSL
# takes its software SHA-256, some 65,000 instructions for a notification's 2 KB, over 40% of the
# core's count. On this machine's CPUs the hardware path hashes the same bytes in about 1.7 us,
# some 8% of a notification's CPU. A ratio to the whole count therefore understates what a route
# costs natively (0.091 of the core by instructions measured +15-30% CPU); the ratio to the count
# without libcrypto is the closer estimate.
printf '| variant | instructions per notification | of which libcrypto | vs core | vs core, without libcrypto |\n|---|---|---|---|---|\n'
core=""
for v in ${VARIANTS:-core routing-only routing-key routing-transforms routing-file}; do
  fixed=$(measure "$v" "$WARM")
  total=$(measure "$v" $((WARM + N)))
  per=$(( (total - fixed) / N ))
  sha=$(( ($(crypto "$WORK/cg.$v.$((WARM + N))") - $(crypto "$WORK/cg.$v.$WARM")) / N ))
  if [ -z "$core" ]; then core=$per; coresha=$sha; fi
  printf '| %s | %s | %s | %s | %s |\n' "$v" "$per" "$sha" "$(python3 -c "print(f'{$per/$core:.3f}')")" \
    "$(python3 -c "print(f'{($per - $sha)/($core - $coresha):.3f}')")"
done
