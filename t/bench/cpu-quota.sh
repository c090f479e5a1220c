#!/bin/bash
# cpu-quota.sh PCT WORKERS CMD... - run CMD (a squidlike, in the
# foreground) with each of its WORKERS worker processes (or, for 1, the
# process itself) held to PCT % of one core by a cgroup of its own (v1
# cpu controller; root). "Cores" of a known size, on a machine too small
# to give the proxy two real cores and the load client one of its own:
# if 2 workers serve twice what 1 does while the client is not saturated
# (proxybench's cCPU under 100), the work spreads over the workers with
# nothing shared in the way. For example:
#   proxybench --cpus-proxy 1 --cpus-client 0 --only rev_tls_new \
#     q1=cmd:'REV_BENCH_WORKERS=1 exec t/bench/cpu-quota.sh 25 1 t/bench/rev-bench.sh {port} ...' \
#     q2=cmd:'REV_BENCH_WORKERS=2 exec t/bench/cpu-quota.sh 25 2 t/bench/rev-bench.sh {port} ...'
set -e
pct=$1 workers=$2
shift 2
cg=/sys/fs/cgroup/cpu
[ -w "$cg" ] || { echo "cpu-quota.sh: $cg is not writable (root, cgroup v1 cpu)" >&2; exit 1; }
"$@" &
main=$!
pids=$main
if [ "$workers" -gt 1 ]; then
  for i in $(seq 200); do
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
