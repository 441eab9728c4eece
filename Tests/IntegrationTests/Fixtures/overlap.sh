#!/bin/sh
# Test helper: records when it starts and ends (nanoseconds) so a test can count how many ran at
# once, and sleeps a little so runs overlap when the gateway lets them.
set -u
log="${OVERLAP_LOG:?}"
echo "start $(date +%s%N)" >> "$log"
cat > /dev/null
sleep 0.05
echo "end $(date +%s%N)" >> "$log"
