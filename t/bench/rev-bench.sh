#!/bin/sh
# rev-bench.sh - squidlike in reverse mode for proxybench's rev_* scenarios:
#   proxybench --only rev_hit1k,rev_pass1k nginx-rev haproxy varnish-rev \
#     squidlike=cmd:'exec t/bench/rev-bench.sh {port} {origin} {origin2} {dir} {tlsport} {cert} {key}'
# (the last three for the rev_tls_* scenarios: an HTTPS listener with that
# certificate)
# Listens on 127.0.0.1:PORT for www.bench.test (any Host: the default
# vhost), round-robin over the two backends, compression on (its
# defaults), the cache in DIR/cache, no
# forward proxy, no access log (as the anchors run). REV_BENCH_LEAN=1 turns
# the identity headers off; REV_BENCH_BUSY_POLL_US=N sets limits.busy_poll_us
# (off by default, as HAProxy's busy-polling); REV_BENCH_WORKERS=N runs N
# worker processes.
set -e
port=$1 origin=$2 origin2=$3 dir=$4 tlsport=$5 cert=$6 key=$7
bin=${SQUIDLIKE:-$(dirname "$0")/../../squidlike/squidlike}
mkdir -p "$dir/var/run" "$dir/var/log" "$dir/cache"
lean=
[ -n "$REV_BENCH_LEAN" ] && lean='forwarded_for = false; forwarded = false;
  x_forwarded_proto = false; x_forwarded_host = false; request_id = false;'
tls=
[ -n "$tlsport" ] && tls="tls_listen = [ \"127.0.0.1:$tlsport\" ];
  tls: { certificates = ( { cert = \"$cert\"; key = \"$key\"; } ); };"
cat > "$dir/rev.conf" <<CONF
listen = [ ];
pid_file = "$dir/var/run/squidlike.pid";
access_log = "none";
error_log = "$dir/var/log/error.log";
log_level = "warn";
workers = ${REV_BENCH_WORKERS:-1};
cache: { enabled = true; dir = "$dir/cache"; size = "1G"; };
limits: { busy_poll_us = ${REV_BENCH_BUSY_POLL_US:-0}; };
reverse: {
  listen = [ "127.0.0.1:$port" ];
  $tls
  $lean
  compression: { };
  pools = ( { name = "app"; balance = "round-robin";
              backends = [ "$origin", "$origin2" ]; } );
  vhosts = ( { names = [ "www.bench.test" ]; default = true;
               routes = ( { prefix = "/"; pool = "app"; } ); } );
};
CONF
exec "$bin" -f "$dir/rev.conf"
