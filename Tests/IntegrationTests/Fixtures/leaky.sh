#!/bin/sh
# Test helper for the redaction test: a careless legacy script that dumps what it received (the
# notification on stdin, its environment) to stderr and fails, so the gateway logs its stderr.
echo "leaky: got this notification:" >&2
cat >&2
echo "" >&2
env | grep -E '^(TOKEN|PASSWORD)=' >&2
exit 3
