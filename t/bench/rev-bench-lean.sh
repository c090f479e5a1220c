#!/bin/sh
# rev-bench-lean.sh - rev-bench.sh with the headers that tell the backends
# who the client is turned off (X-Forwarded-For, Forwarded,
# X-Forwarded-Proto/-Host, X-Request-Id): the work nginx-rev, HAProxy and
# Varnish do in proxybench's presets, which add none of them. Via stays
# (RFC 9110 7.6.3: a gateway MUST send it inbound).
exec env REV_BENCH_LEAN=1 "$(dirname "$0")/rev-bench.sh" "$@"
