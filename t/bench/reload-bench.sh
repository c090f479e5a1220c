#!/bin/bash
# reload-bench.sh - failed requests through reloads and a binary upgrade
# under load (issue 14): an nginx origin, squidlike with 2 workers, wrk
# with 10 keep-alive connections for 30 s of cache hits through the proxy;
# meanwhile 10 reloads (SIGHUP) 2 s apart, then one `-k upgrade`. Prints
# wrk's PBRESULT line (errors: connect, read, write, status, timeout) and
# the master's log of the reloads. Needs nginx and wrk.
#   t/bench/reload-bench.sh [seconds] [workers] [reloads]
set -e
secs=${1:-30} workers=${2:-2} reloads=${3:-10}
top=$(cd "$(dirname "$0")/../.." && pwd)
d=$(mktemp -d /tmp/reload-bench.XXXXXX)
chmod 755 "$d"     # nginx workers run as nobody
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
oport=$(free_port) pport=$(free_port)
mkdir -p "$d/www/c" "$d/ngx/tmp" "$d/bin"
head -c 1024 /dev/zero | tr '\0' x > "$d/www/c/1k"
cat > "$d/ngx/nginx.conf" <<CONF
daemon off; worker_processes 1; pid $d/ngx/nginx.pid; error_log $d/ngx/error.log warn;
events { worker_connections 4096; }
http { access_log off; client_body_temp_path $d/ngx/tmp/b; proxy_temp_path $d/ngx/tmp/p;
 fastcgi_temp_path $d/ngx/tmp/f; uwsgi_temp_path $d/ngx/tmp/u; scgi_temp_path $d/ngx/tmp/s;
 server { listen 127.0.0.1:$oport; root $d/www;
   location /c/ { add_header Cache-Control "max-age=3600" always; } } }
CONF
nginx -p "$d/ngx" -c "$d/ngx/nginx.conf" -e "$d/ngx/error.log" &
ngx=$!
# The binary is copied: -k upgrade runs the file at the path we started.
cp "$top/squidlike/squidlike" "$d/bin/squidlike"
cat > "$d/sl.conf" <<CONF
listen = [ "127.0.0.1:$pport" ];
pid_file = "$d/sl.pid";
error_log = "$d/error.log";
access_log = "none";
workers = $workers;
timeouts: { shutdown = "10s"; };
cache: { dir = "$d/cache"; size = "256M"; };
CONF
"$d/bin/squidlike" -f "$d/sl.conf" &
for i in $(seq 100); do
  [ "$(curl -s -o /dev/null -w "%{http_code}" -x "127.0.0.1:$pport" "http://127.0.0.1:$oport/c/1k")" = 200 ] && break
  sleep 0.1
done
wrk -t1 -c10 -d${secs}s "http://127.0.0.1:$pport/" -s /work/shared/bench/proxybench.lua \
  -- "http://127.0.0.1:$oport/c/1k" "127.0.0.1:$oport" > "$d/wrk.out" &
wrkpid=$!
sleep 2
for i in $(seq "$reloads"); do
  kill -HUP "$(cat "$d/sl.pid")"
  sleep 2
done
"$d/bin/squidlike" -f "$d/sl.conf" -k upgrade
sleep 3
wait $wrkpid
grep -E "Requests/sec|PBRESULT|Non-2xx|Socket errors" "$d/wrk.out"
echo "reloads: $(grep -c 'reload: generation' "$d/error.log"), upgrades: $(grep -c 'upgrade: up' "$d/error.log")"
grep -E "warn|error" "$d/error.log" | head -20 || true
kill "$(cat "$d/sl.pid")"; kill $ngx
sleep 1
[ -n "$KEEP" ] && echo "kept $d" || rm -rf "$d"
