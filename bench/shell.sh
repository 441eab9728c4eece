#!/usr/bin/env bash
# The shell plugin starting /bin/true 8 at a time (issue 3's goal: at least 1,000 processes/s),
# side by side with a reference that does nothing else: `xargs -P8 /bin/true`. How fast this
# machine creates processes changes from hour to hour (a shared host), so read the ratio.
#
#   bench/shell.sh [RUNS]     # RUNS processes per measurement (default 4000), 3 rounds each
set -euo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
RUNS=${1:-4000}
swift build -c release --package-path "$ROOT" >&2
printf '| round | xargs -P8 /bin/true (processes/s) | shell plugin, maxConcurrent 8 (processes/s) | plugin / xargs |\n|---|---|---|---|\n'
for round in 1 2 3; do
  start=$(date +%s.%N)
  seq "$RUNS" | xargs -P8 -n1 /bin/true
  end=$(date +%s.%N)
  ref=$(python3 -c "print(round($RUNS / ($end - $start)))")
  plugin=$("$ROOT/.build/release/gateway-microbench" "$RUNS" shell | awk '/shell/ {print $(NF-5)}')
  printf '| %s | %s | %s | %s |\n' "$round" "$ref" "$plugin" "$(python3 -c "print(f'{$plugin / $ref:.2f}')")"
done
