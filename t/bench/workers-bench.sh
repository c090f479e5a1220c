#!/bin/sh
# workers-bench.sh - squidlike with N workers for proxybench's forward
# scenarios (hit1k, miss1k, tunnel1m ...):
#   proxybench --cpus-proxy 0,1 --cpus-client 0 --only hit1k \
#     w1=cmd:'exec t/bench/workers-bench.sh {port} {dir} 1' \
#     w2=cmd:'exec t/bench/workers-bench.sh {port} {dir} 2' \
#     w2x=cmd:'exec t/bench/workers-bench.sh {port} {dir} 2 shared'
# The third argument is `workers`, the fourth `worker_sockets` (reuseport
# by default); WB_SCHED_BATCH=true|false sets worker_sched_batch (unset:
# the default). The cache in
# {dir}, no access log, as the anchors run.
set -e
port=$1 dir=$2 workers=${3:-1} socks=${4:-reuseport}
bin=${SQUIDLIKE:-$(dirname "$0")/../../squidlike/squidlike}
mkdir -p "$dir"
cat > "$dir/w.conf" <<CONF
listen = [ "127.0.0.1:$port" ];
pid_file = "$dir/w.pid";
error_log = "$dir/w.err";
access_log = "none";
log_level = "warn";
workers = $workers;
worker_sockets = "$socks";
${WB_SCHED_BATCH:+worker_sched_batch = $WB_SCHED_BATCH;}
cache: { dir = "$dir/cache"; size = "1G"; };
CONF
exec "$bin" -f "$dir/w.conf"
