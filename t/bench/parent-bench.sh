#!/bin/sh
# parent-bench.sh - a squidlike that sends every request through a second
# squidlike as its parent proxy, for proxybench's forward scenarios:
#   proxybench --only miss1k direct=cmd:'exec t/bench/parent-bench.sh {port} {dir} direct' \
#     via_parent=cmd:'exec t/bench/parent-bench.sh {port} {dir} parent'
# "direct" runs the child alone (the same configuration, no peers): the
# pair's CPU per request against one proxy's is the cost of the extra hop.
# Both without cache and access log, as the anchors run; the parent on a
# free port of its own, in the background of this process tree (proxybench
# counts the tree's CPU and memory, and stops it with the tree).
set -e
port=$1 dir=$2 mode=$3
bin=${SQUIDLIKE:-$(dirname "$0")/../../squidlike/squidlike}
mkdir -p "$dir"
common='access_log = "none"; log_level = "warn"; cache: { enabled = false; };'
peers=
if [ "$mode" = parent ]; then
  pport=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  cat > "$dir/parent.conf" <<CONF
listen = [ "127.0.0.1:$pport" ];
pid_file = "$dir/parent.pid";
error_log = "$dir/parent.err";
visible_hostname = "parent";
$common
CONF
  "$bin" -f "$dir/parent.conf" &
  # the parent listens before the child takes requests (at most 10 s)
  python3 -c 'import socket, sys, time
for _ in range(100):
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.5).close(); break
    except OSError:
        time.sleep(0.1)' "$pport"
  peers="peers = ( { name = \"p\"; address = \"127.0.0.1:$pport\"; } );
never_direct = [ \"allow all\" ];"
fi
cat > "$dir/child.conf" <<CONF
listen = [ "127.0.0.1:$port" ];
pid_file = "$dir/child.pid";
error_log = "$dir/child.err";
visible_hostname = "child";
$common
$peers
CONF
exec "$bin" -f "$dir/child.conf"
