#!/bin/bash
# workers-quota.sh - squidlike with N workers, each held to PCT % of one
# core by a cgroup (v1 cpu controller, root): "cores" of a known size on
# a machine too small to give the proxy two real cores and the load
# client one of its own. If 2 workers serve twice what 1 does while the
# client is not saturated (proxybench's cCPU under 100), the work spreads
# over the workers with nothing shared in the way.
#   proxybench --cpus-proxy 1 --cpus-client 0 --only hit1k \
#     q1=cmd:'exec t/bench/workers-quota.sh {port} {dir} 1 40' \
#     q2=cmd:'exec t/bench/workers-quota.sh {port} {dir} 2 40'
set -e
port=$1 dir=$2 workers=${3:-1} pct=${4:-40}
bin=${SQUIDLIKE:-$(dirname "$0")/../../squidlike/squidlike}
cg=/sys/fs/cgroup/cpu
[ -w "$cg" ] || { echo "workers-quota.sh: $cg is not writable (root, cgroup v1 cpu)" >&2; exit 1; }
mkdir -p "$dir"
cat > "$dir/q.conf" <<CONF
listen = [ "127.0.0.1:$port" ];
pid_file = "$dir/q.pid";
error_log = "$dir/q.err";
access_log = "none";
log_level = "warn";
workers = $workers;
cache: { dir = "$dir/cache"; size = "1G"; };
CONF
if [ "$workers" = 1 ]; then
  # One process: it is the worker.
  "$bin" -f "$dir/q.conf" &
  pids=$!
  main=$!
else
  "$bin" -f "$dir/q.conf" &
  main=$!
  for i in $(seq 100); do
    pids=$(pgrep -P "$main" || true)
    [ "$(echo "$pids" | wc -w)" = "$workers" ] && break
    sleep 0.05
  done
fi
groups=
n=0
for p in $pids; do
  g=$cg/squidlike-q$$-$n
  mkdir -p "$g"
  echo 100000 > "$g/cpu.cfs_period_us"
  echo $((pct * 1000)) > "$g/cpu.cfs_quota_us"
  echo "$p" > "$g/cgroup.procs"
  groups="$groups $g"
  n=$((n + 1))
done
cleanup() {
  kill -TERM "$main" 2>/dev/null || true
  wait "$main" 2>/dev/null || true
  for g in $groups; do
    while read -r p; do echo "$p" > $cg/cgroup.procs; done < "$g/cgroup.procs" 2>/dev/null || true
    rmdir "$g" 2>/dev/null || true
  done
}
trap cleanup TERM INT EXIT
wait "$main"
