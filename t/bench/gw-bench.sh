#!/bin/bash
# gw-bench.sh - what the API gateway's authentication costs (issue 15):
# proxybench's rev_pass1k (every request passed to a backend, a 1 KiB
# no-store body) through squidlike with and without auth, beside nginx.
#
#   t/bench/gw-bench.sh                      # from the source tree, after make
#   GB_ROUNDS=20 GB_DURATION=3 GB_CANDIDATES="noauth apikey rs256 es256" \
#     t/bench/gw-bench.sh      # a busy machine: more, shorter pairs
#   GB_CANDIDATES="noauth rs256" GB_PERF=rs256 t/bench/gw-bench.sh
#
# Why not proxybench: it cannot add an Authorization field to its requests.
# This script sets up what its rev_pass1k does and measures the same way:
#   - one nginx origin (1 worker) serving /nc/1k (1 KiB of random bytes,
#     "Cache-Control: no-store") on two ports, the two backends a proxy
#     balances over (proxybench runs two nginx processes; one process with
#     two ports keeps the origin's CPU the same and the split even);
#   - the candidates, one process each, started, checked, measured and
#     stopped in turn on the same port, workers = 1, no access log,
#     log_level warn, the cache and compression on (as t/bench/rev-bench.sh):
#       noauth         squidlike, the route without auth (the baseline)
#       noauth-bearer  the same route, wrk sends rs256's Authorization field:
#                      what the request's 600 more bytes cost (parsed,
#                      passed on to the backend), without any verification
#       apikey         auth methods [api_key]: X-Api-Key
#       rs256, es256   auth methods [jwt]: Authorization: Bearer <token>
#                      (RS256 with a 2048-bit key, ES256 on P-256; exp in
#                      an hour; verified once, then found in jwt's cache)
#       rs256-nocache, es256-nocache
#                      the same with jwt.cache_size = 0: a signature check
#                      per request (what the cache saves)
#       nginx-rev      nginx proxy_pass to the same backends, upstream
#                      keep-alive, no auth (proxybench's nginx-rev preset)
#     All squidlike candidates have the same config but for the route's
#     auth group and jwt.cache_size;
#   - before every measured run: the authenticated request must get 200
#     and the 1 KiB body, and (auth candidates) the request without
#     credentials and one with a wrong key / a token with a bad signature
#     must get 401 - so a broken config is never measured as fast;
#   - wrk as proxybench runs it for rev_pass1k: 1 thread, 10 connections,
#     6 s measured after 1 s of warm-up, pinned with taskset: the proxy
#     on the last CPU, wrk and the origin on CPU 0;
#   - GB_ROUNDS rounds (default 5), the candidates interleaved within each
#     round (A B C ... A B C ...) so that the machine's drift hits all.
#
# The table: per candidate the median req/s over the rounds, its spread
# ((max - min) / median), median p50/p99 latency, proxy and client CPU,
# requests per proxy CPU second, origin hits, errors, and the paired
# ratios: per round req/s / req/s of noauth (and of nginx-rev) in the same
# round, the median of those. On a busy machine req/cpu-s is the steadier
# figure (it does not care whether the proxy got its whole core).
# The goal line says whether apikey, rs256 and es256 stay within 15 % of
# noauth in req/s (the issue's goal), and gives their ratio in req/cpu-s.
# On a 2-core VM with 10 connections rev_pass1k is bound by the wake-ups
# between the two CPUs as much as by the proxy's CPU (the proxy used 25-40 %
# of its core in the runs of issue 15), so the auth's CPU cost shows in
# req/cpu-s first and in req/s only when the proxy is saturated.
#
# Exit status: 0 measured, 1 a run had wrk errors (connect, read, write,
# timeout, status >= 400), no result or fewer origin hits than responses
# (something answered without the backend), 2 a setup or check failure.
#
# Environment: GB_ROUNDS (5), GB_DURATION (6), GB_WARMUP (1),
# GB_CONNECTIONS (10), GB_THREADS (1), GB_CANDIDATES (the list above, in
# that order; noauth is added first when missing), GB_CPUS_PROXY (last
# CPU), GB_CPUS_CLIENT (0; also the origin's), GB_NO_PIN=1, GB_KEEP=1
# (keep the temp folder: configs, logs, raw wrk output), GB_LEAN=1 (no
# X-Forwarded-*/Forwarded/X-Request-Id: rev-bench-lean.sh), GB_PERF="name
# ..." (after the rounds, one unmeasured run of each with perf record -g
# on the proxy; the report is printed and kept in the temp folder),
# GB_STRICT=1 (exit 3 when the 15 % goal is missed), SQUIDLIKE, NGINX_BIN,
# WRK_BIN, TMPDIR. Everything listens on 127.0.0.1; every process started
# is stopped by its PID on exit.
set -u -o pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BIN=${SQUIDLIKE:-$HERE/../../squidlike/squidlike}
NGINX_BIN=${NGINX_BIN:-/usr/sbin/nginx}
WRK_BIN=${WRK_BIN:-wrk}
ROUNDS=${GB_ROUNDS:-5}
DURATION=${GB_DURATION:-6}
WARMUP=${GB_WARMUP:-1}
CONNS=${GB_CONNECTIONS:-10}
THREADS=${GB_THREADS:-1}
CANDS=${GB_CANDIDATES:-noauth noauth-bearer apikey rs256 es256 rs256-nocache es256-nocache nginx-rev}
HOSTNAME_=www.bench.test
PATH_=/nc/1k

log() { printf '%s gw-bench: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "$*"; exit 2; }
need() { command -v "$1" >/dev/null 2>&1 || die "missing '$1' ($2)"; }

for v in ROUNDS DURATION WARMUP CONNS THREADS; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number (got '${!v}')"
done
[ "$ROUNDS" -ge 1 ] && [ "$ROUNDS" -le 100 ] || die "GB_ROUNDS must be 1..100"
[ "$DURATION" -ge 1 ] && [ "$DURATION" -le 600 ] || die "GB_DURATION must be 1..600"
[ "$WARMUP" -le 600 ] || die "GB_WARMUP must be 0..600"
[ "$THREADS" -ge 1 ] && [ "$CONNS" -ge "$THREADS" ] && [ "$CONNS" -le 10000 ] || \
    die "need 1 <= GB_THREADS <= GB_CONNECTIONS <= 10000"
[ -x "$BIN" ] || die "no squidlike binary at $BIN (build first, or set SQUIDLIKE)"
need "$WRK_BIN" "apt-get install wrk"
need "$NGINX_BIN" "apt-get install nginx"
need curl "apt-get install curl"
need openssl "apt-get install openssl"
need python3 "apt-get install python3"
need timeout coreutils
need sha256sum coreutils
[ -n "${GB_PERF:-}" ] && need perf "apt-get install linux-perf"

for c in $CANDS; do
    case "$c" in
        noauth|noauth-bearer|apikey|rs256|es256|rs256-nocache|es256-nocache|nginx-rev) ;;
        *) die "unknown candidate '$c' (noauth noauth-bearer apikey rs256 es256 rs256-nocache es256-nocache nginx-rev)" ;;
    esac
done
# noauth is what the ratios are taken against: always measured, first
[[ " $CANDS " == *" noauth "* ]] || CANDS="noauth $CANDS"
CANDS="noauth $(printf '%s\n' $CANDS | grep -vx noauth | tr '\n' ' ')"
CANDS=${CANDS% }

PIN=1; [ -n "${GB_NO_PIN:-}" ] && PIN=0
NCPU=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
if [ "$PIN" = 1 ] && [ "$NCPU" -lt 2 ] && [ -z "${GB_CPUS_PROXY:-}${GB_CPUS_CLIENT:-}" ]; then
    log "only $NCPU CPU: not pinning"; PIN=0
fi
[ "$PIN" = 1 ] && need taskset "apt-get install util-linux"
CPU_PROXY=${GB_CPUS_PROXY:-$((NCPU - 1))}
CPU_CLIENT=${GB_CPUS_CLIENT:-0}
CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)
pin() { # CPUS cmd... : exec cmd pinned (same PID)
    local cpus=$1; shift
    if [ "$PIN" = 1 ]; then exec taskset -c "$cpus" "$@"; else exec "$@"; fi
}

unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

W=$(mktemp -d "${TMPDIR:-/tmp}/gw-bench.XXXXXX") || die "mktemp failed"
chmod 755 "$W"   # nginx's workers drop privileges (when run as root) and must traverse it
STARTED=()
cleanup() {
    local p n
    for p in "${STARTED[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${STARTED[@]}"; do   # bounded: 5 s, then KILL
        for ((n = 0; n < 50; n++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
    done
    if [ -n "${GB_KEEP:-}${GB_PERF:-}" ]; then log "kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() { # prints a port nothing listens on now (the kernel's pick)
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_http() { # PORT PID NAME : until PORT answers HTTP (30 s), or PID died
    local n
    for ((n = 0; n < 300; n++)); do
        kill -0 "$2" 2>/dev/null || return 1
        curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$1/" && return 0
        sleep 0.1
    done
    log "$3 did not answer on port $1 within 30 s"
    return 1
}
stop_pid() { # PID : TERM, up to 10 s, then KILL; reaped, so the port is free again
    local n
    kill -TERM "$1" 2>/dev/null
    for ((n = 0; n < 100; n++)); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$1" 2>/dev/null
    wait "$1" 2>/dev/null
    local a=() p; for p in "${STARTED[@]}"; do [ "$p" = "$1" ] || a+=("$p"); done
    STARTED=("${a[@]}")
}
tree_pids() { # PID... : the PIDs and all their descendants
    local p c
    for p in "$@"; do
        echo "$p"
        for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do tree_pids "$c"; done
    done
}
proc_ns() { # CPU time (ns) of the given PIDs' threads, summed: schedstat's
    # run time, not stat's clock ticks (10 ms each: 1 % of a 1 s figure)
    cat $(printf '/proc/%s/task/*/schedstat ' "$@") 2>/dev/null | awk '{ s += $1 } END { printf "%.0f", s }'
}
child_ticks() { # cutime + cstime of this shell: CPU of the children it waited for (wrk)
    local f; read -r -a f < "/proc/$$/stat"; echo $((f[15] + f[16]))
}

# ------------------------------------------------------------------ origin --
O=$W/origin
mkdir -p "$O/www/c" "$O/tmp"
head -c 1024 /dev/urandom > "$O/www/c/1k"
chmod -R a+rX "$O"
B1=$(free_port) B2=$(free_port) BS=$(free_port) PORT=$(free_port)
[ "$B1" != "$B2" ] && [ "$B1" != "$BS" ] && [ "$B2" != "$BS" ] || die "port picks collided; run again"
cat > "$O/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $O/nginx.pid;
error_log $O/error.log warn;
events { worker_connections 8192; }
http {
    default_type application/octet-stream;
    types { }
    sendfile on; tcp_nopush on; tcp_nodelay on;
    keepalive_timeout 300s; keepalive_requests 100000000;
    open_file_cache max=64 inactive=600s; open_file_cache_valid 600s;
    client_body_temp_path $O/tmp/body; proxy_temp_path $O/tmp/proxy;
    fastcgi_temp_path $O/tmp/fcgi; uwsgi_temp_path $O/tmp/uwsgi; scgi_temp_path $O/tmp/scgi;
    access_log $O/access.log combined buffer=256k flush=1s;
    server {
        listen 127.0.0.1:$B1 reuseport backlog=4096;
        listen 127.0.0.1:$B2 reuseport backlog=4096;
        root $O/www;
        location /nc/ { alias $O/www/c/; add_header Cache-Control "no-store" always; }
    }
    server {
        listen 127.0.0.1:$BS;
        access_log off;
        location / { stub_status; }
    }
}
EOF
( pin "$CPU_CLIENT" "$NGINX_BIN" -p "$O" -c "$O/nginx.conf" -e "$O/error.log" ) > "$O/stdout.log" 2>&1 &
ORIGIN_PID=$!
STARTED+=("$ORIGIN_PID")
wait_http "$BS" "$ORIGIN_PID" origin || { cat "$O/error.log" >&2; die "origin nginx did not start"; }
origin_requests() { # requests the origin has seen (stub_status; this query counts 1)
    curl -s --max-time 5 "http://127.0.0.1:$BS/" | awk 'NR == 3 { print $3 }'
}

# ------------------------------------------------- credentials and tokens --
K=$W/keys
mkdir -p "$K"
{
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$K/rs.key" &&
    openssl pkey -in "$K/rs.key" -pubout -out "$K/rs.pub.pem" &&
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$K/es.key" &&
    openssl pkey -in "$K/es.key" -pubout -out "$K/es.pub.pem"
} > "$K/openssl.log" 2>&1 || { cat "$K/openssl.log" >&2; die "openssl could not make the keys"; }
APIKEY=$(openssl rand -hex 24)
APIKEY_SHA=$(printf %s "$APIKEY" | sha256sum | awk '{ print $1 }')
mint() { # ALG KID KEYFILE : a JWT for consumer "bench", exp in an hour, signed by openssl
    python3 - "$@" <<'PY'
import base64, json, subprocess, sys, time
alg, kid, keyfile = sys.argv[1:4]
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
now = int(time.time())
head = {"alg": alg, "typ": "JWT", "kid": kid}
claims = {"sub": "bench", "iat": now, "exp": now + 3600}
inp = b64(json.dumps(head, separators=(",", ":")).encode()) + "." + \
      b64(json.dumps(claims, separators=(",", ":")).encode())
sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", keyfile], input=inp.encode(),
                     stdout=subprocess.PIPE, check=True).stdout
if alg == "ES256":  # openssl gives DER SEQUENCE { INTEGER r, INTEGER s }; JWS wants r || s
    def der_int(b, i):
        assert b[i] == 0x02
        n = b[i + 1]
        return int.from_bytes(b[i + 2:i + 2 + n], "big"), i + 2 + n
    assert sig[0] == 0x30
    i = 3 if sig[1] == 0x81 else 2
    r, i = der_int(sig, i)
    s, _ = der_int(sig, i)
    sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
print(inp + "." + b64(sig))
PY
}
TOK_RS=$(mint RS256 rs1 "$K/rs.key") || die "cannot mint the RS256 token"
TOK_ES=$(mint ES256 es1 "$K/es.key") || die "cannot mint the ES256 token"
# the same tokens with the signature's first character changed: must be refused
badsig() { local t=$1 s=${1##*.}; local c=A; [ "${s:0:1}" = A ] && c=B; echo "${t%.*}.$c${s:1}"; }

cred_header() { # CANDIDATE : the field the authenticated request carries ("" for none)
    case "$1" in
        noauth-bearer) echo "Authorization: Bearer $TOK_RS" ;;
        apikey) echo "X-Api-Key: $APIKEY" ;;
        rs256|rs256-nocache) echo "Authorization: Bearer $TOK_RS" ;;
        es256|es256-nocache) echo "Authorization: Bearer $TOK_ES" ;;
        *) echo "" ;;
    esac
}
bad_header() { # CANDIDATE : a wrong credential of the same kind
    case "$1" in
        apikey) echo "X-Api-Key: x$APIKEY" ;;
        rs256|rs256-nocache) echo "Authorization: Bearer $(badsig "$TOK_RS")" ;;
        es256|es256-nocache) echo "Authorization: Bearer $(badsig "$TOK_ES")" ;;
    esac
}

# -------------------------------------------------------------- candidates --
squidlike_conf() { # CANDIDATE DIR
    local c=$1 d=$2 auth="" cache_size=10000 lean=""
    case "$c" in
        apikey) auth='auth = { methods = [ "api_key" ]; };' ;;
        rs256|es256) auth='auth = { methods = [ "jwt" ]; };' ;;
        rs256-nocache|es256-nocache) auth='auth = { methods = [ "jwt" ]; };'; cache_size=0 ;;
    esac
    [ -n "${GB_LEAN:-}" ] && lean='forwarded_for = false; forwarded = false;
  x_forwarded_proto = false; x_forwarded_host = false; request_id = false;'
    cat <<CONF
# generated by gw-bench.sh: candidate $c
listen = [ ];
pid_file = "$d/squidlike.pid";
access_log = "none";
error_log = "$d/error.log";
log_level = "warn";
workers = 1;
cache: { enabled = true; dir = "$d/cache"; size = "1G"; };
reverse: {
  listen = [ "127.0.0.1:$PORT" ];
  $lean
  compression: { };
  pools = ( { name = "app"; balance = "round-robin";
              backends = [ "127.0.0.1:$B1", "127.0.0.1:$B2" ]; } );
  gateway: {
    consumers = ( { name = "bench"; api_keys = [ "sha256:$APIKEY_SHA" ]; } );
    jwt: {
      keys = ( { kid = "rs1"; pem = "$K/rs.pub.pem"; },
               { kid = "es1"; pem = "$K/es.pub.pem"; } );
      algorithms = [ "RS256", "ES256" ];
      cache_size = $cache_size;
    };
  };
  vhosts = ( { names = [ "$HOSTNAME_" ]; default = true;
               routes = ( { prefix = "/"; pool = "app"; name = "bench"; $auth } ); } );
};
CONF
}
nginx_rev_conf() { # DIR : proxybench's nginx-rev preset, without the TLS port
    local d=$1
    cat <<EOF
# generated by gw-bench.sh: nginx as a reverse proxy (proxybench's nginx-rev)
daemon off;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 8192; }
http {
    sendfile on; tcp_nopush on; tcp_nodelay on;
    keepalive_timeout 300s; keepalive_requests 100000000;
    access_log off;
    client_body_temp_path $d/tmp/body; proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fcgi; uwsgi_temp_path $d/tmp/uwsgi; scgi_temp_path $d/tmp/scgi;
    upstream pb_backends {
        server 127.0.0.1:$B1;
        server 127.0.0.1:$B2;
        keepalive 64; keepalive_requests 100000000; keepalive_timeout 300s;
    }
    proxy_cache_path $d/cache levels=1:2 keys_zone=pb:32m max_size=256m inactive=2h use_temp_path=off;
    gzip on; gzip_comp_level 1; gzip_min_length 256;
    gzip_types text/plain text/css application/json application/javascript;
    server {
        listen 127.0.0.1:$PORT backlog=4096;
        server_name $HOSTNAME_;
        location / {
            proxy_pass http://pb_backends;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
            proxy_cache pb;
            proxy_cache_valid 200 1m;
            add_header X-Cache \$upstream_cache_status always;
        }
    }
}
EOF
}
CPID=""
start_cand() { # CANDIDATE : started on $PORT, pinned, answering; sets CPID
    local c=$1 d=$W/c-$1
    mkdir -p "$d/tmp"
    if [ "$c" = nginx-rev ]; then
        nginx_rev_conf "$d" > "$d/nginx.conf"
        ( pin "$CPU_PROXY" "$NGINX_BIN" -p "$d" -c "$d/nginx.conf" -e "$d/error.log" ) >> "$d/stdout.log" 2>&1 &
    else
        squidlike_conf "$c" "$d" > "$d/squidlike.conf"
        ( pin "$CPU_PROXY" "$BIN" -f "$d/squidlike.conf" ) >> "$d/stdout.log" 2>&1 &
    fi
    CPID=$!
    STARTED+=("$CPID")
    if ! wait_http "$PORT" "$CPID" "$c"; then
        tail -n 20 "$d/stdout.log" "$d/error.log" >&2 2>/dev/null
        die "$c did not start"
    fi
}
status_of() { # PORT [HEADER] : "status bytes" of one request as wrk sends it
    local h=(-H "Host: $HOSTNAME_" -H "User-Agent: gw-bench")
    [ -n "${2:-}" ] && h+=(-H "$2")
    curl -s --max-time 10 "${h[@]}" -o /dev/null -w '%{http_code} %{size_download}' \
        "http://127.0.0.1:$1$PATH_"
}
check_cand() { # CANDIDATE : 200 + 1 KiB with the credential; 401 without it and with a wrong one
    local c=$1 got cred bad
    cred=$(cred_header "$c")
    got=$(status_of "$PORT" "$cred")
    [ "$got" = "200 1024" ] || die "$c: the authenticated request got '$got', not '200 1024'"
    [ -n "$cred" ] && [ "$c" != noauth-bearer ] || return 0
    got=$(status_of "$PORT")
    [ "${got%% *}" = 401 ] || die "$c: the request without credentials got '$got', not 401"
    bad=$(bad_header "$c")
    got=$(status_of "$PORT" "$bad")
    [ "${got%% *}" = 401 ] || die "$c: the request with a wrong credential got '$got', not 401"
}

LUA=$W/gw-bench.lua
cat > "$LUA" <<'LUA'
-- proxybench.lua's request shape (origin-form, Host, User-Agent; -H adds
-- the credential) and one machine-readable summary line; no response()
-- callback (it would cost the client a Lua call per response)
function init(args)
   wrk.path = args[1]
   wrk.headers["Host"] = args[2]
   wrk.method = "GET"
   wrk.headers["User-Agent"] = "proxybench-wrk"
end
function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "GBRESULT requests=%d duration_us=%d bytes=%d connect=%d read=%d write=%d " ..
      "status=%d timeout=%d p50_us=%d p99_us=%d\n",
      summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
      e.status, e.timeout, latency:percentile(50), latency:percentile(99)))
end
LUA
load() { # CANDIDATE SECS OUTFILE : one bounded wrk run against $PORT
    local cred h=()
    cred=$(cred_header "$1")
    [ -n "$cred" ] && h=(-H "$cred")
    ( pin "$CPU_CLIENT" timeout -k 5 $(($2 + 60)) "$WRK_BIN" -t "$THREADS" -c "$CONNS" -d "${2}s" \
        --timeout 5s "${h[@]}" -s "$LUA" "http://127.0.0.1:$PORT/" -- "$PATH_" "$HOSTNAME_" ) > "$3" 2>&1
}

# ------------------------------------------------------------- measuring --
RES=$W/results.tsv
: > "$RES"
FAIL=0
run_one() { # ROUND CANDIDATE
    local r=$1 c=$2 d=$W/c-$2 out pids opids o0 o1 pt0 pt1 ct0 ct1 ot0 ot1 t0 t1 line
    out=$d/r$r.out
    start_cand "$c"
    check_cand "$c"
    [ "$WARMUP" -gt 0 ] && load "$c" "$WARMUP" "$out.warmup"
    pids=$(tree_pids "$CPID")
    o0=$(origin_requests)
    opids=$(tree_pids "$ORIGIN_PID")
    pt0=$(proc_ns $pids); ot0=$(proc_ns $opids); ct0=$(child_ticks); t0=$(date +%s%N)
    load "$c" "$DURATION" "$out"
    t1=$(date +%s%N); ct1=$(child_ticks); ot1=$(proc_ns $opids); pt1=$(proc_ns $pids)
    o1=$(origin_requests)
    stop_pid "$CPID"
    line=$(grep '^GBRESULT' "$out" | tail -n 1)
    if [ -z "$line" ]; then
        log "  $c round $r: no result from wrk (see $out):"; tail -n 5 "$out" >&2
        FAIL=1
        line="GBRESULT requests=0 duration_us=1 bytes=0 connect=0 read=0 write=0 status=0 timeout=0 p50_us=0 p99_us=0"
    fi
    local -A R=(); local kv
    for kv in ${line#GBRESULT }; do R[${kv%%=*}]=${kv#*=}; done
    local hits=$(( ${o1:-0} - ${o0:-0} - 1 )) el=$(( (t1 - t0) / 1000 ))
    local errs=$(( R[connect] + R[read] + R[write] + R[status] + R[timeout] ))
    if [ "$errs" -gt 0 ]; then
        log "  $c round $r: wrk errors: connect ${R[connect]} read ${R[read]} write ${R[write]} status>=400 ${R[status]} timeout ${R[timeout]}"
        FAIL=1
    fi
    # each response carried the 1 KiB body (a 3xx or an empty answer would not)
    if [ "${R[requests]}" -gt 0 ] && [ $(( R[bytes] / R[requests] )) -lt 1024 ]; then
        log "  $c round $r: ${R[bytes]} bytes in ${R[requests]} responses: not all carried the 1 KiB body"
        FAIL=1
    fi
    # every response must have come through a backend (no-store: nothing is cached)
    if [ "$hits" -lt "${R[requests]}" ]; then
        log "  $c round $r: origin hits $hits < responses ${R[requests]}"
        FAIL=1
    fi
    printf '%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$c" "$r" "${R[requests]}" \
        "${R[duration_us]}" "${R[p50_us]}" "${R[p99_us]}" "$errs" "$hits" \
        "$((pt1 - pt0))" "$((ct1 - ct0))" "$((ot1 - ot0))" "$el" >> "$RES"
    log "  round $r $c: $(awk -v n="${R[requests]}" -v us="${R[duration_us]}" \
        'BEGIN { printf "%.0f", n / (us / 1e6) }') req/s, p99 $(( R[p99_us] / 1000 )) ms, errors $errs, origin hits $hits, proxy CPU $(( (pt1 - pt0) / 10 / el ))%"
}

log "work folder $W; proxy on 127.0.0.1:$PORT, backends $B1 $B2"
log "candidates: $CANDS; $ROUNDS round(s) of ${DURATION}s after ${WARMUP}s warm-up, wrk -t$THREADS -c$CONNS"
for ((r = 1; r <= ROUNDS; r++)); do
    for c in $CANDS; do run_one "$r" "$c"; done
done

# ---------------------------------------------------------------- report --
{
    echo "gw-bench: $(date -u '+%Y-%m-%d %H:%M:%S UTC')  host: $(uname -sr), $NCPU CPU ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null))  load average: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "squidlike: $BIN ($(git -C "$(dirname "$BIN")" rev-parse --short HEAD 2>/dev/null || echo '?'))   origin and nginx-rev: $("$NGINX_BIN" -v 2>&1 | sed 's/.*: //')   client: $("$WRK_BIN" -v 2>&1 | head -n 1 | awk '{ print $1, $2 }') -t$THREADS -c$CONNS"
    if [ "$PIN" = 1 ]; then echo "pinning: proxy on CPU $CPU_PROXY, wrk and origin on CPU $CPU_CLIENT"; else echo "pinning: none"; fi
    echo "rev_pass1k: GET $PATH_ (1 KiB, no-store) to 2 backends; ${DURATION}s measured after ${WARMUP}s warm-up, $ROUNDS round(s) interleaved"
    echo
    python3 - "$RES" "$CLK_TCK" "$CANDS" <<'PY'
import statistics as st, sys
res, hz, cands = sys.argv[1], int(sys.argv[2]), sys.argv[3].split()
runs = {}   # (cand, round) -> dict
for line in open(res):
    f = line.rstrip("\n").split("\t")
    n, us = int(f[2]), int(f[3])
    el = int(f[11]) / 1e6
    d = dict(rps=n / (us / 1e6) if us > 0 else 0.0, p50=int(f[4]) / 1000, p99=int(f[5]) / 1000,
             errs=int(f[6]), hits=int(f[7]), pcpu=int(f[8]) / 1e9 / el * 100,
             ccpu=int(f[9]) / hz / el * 100, ocpu=int(f[10]) / 1e9 / el * 100)
    d["rpc"] = d["rps"] / (d["pcpu"] / 100) if d["pcpu"] > 0 else 0.0
    runs[(f[0], int(f[1]))] = d
rounds = sorted({r for _, r in runs})
def med(xs): return st.median(xs) if xs else float("nan")
def ratio(c, base, key):
    xs = [runs[(c, r)][key] / runs[(base, r)][key] for r in rounds
          if (c, r) in runs and (base, r) in runs and runs[(base, r)][key] > 0]
    return med(xs)
hdr = ("candidate", "req/s", "+-%", "p50ms", "p99ms", "pCPU", "cCPU", "oCPU", "req/cpu-s",
       "orig.hit", "errs", "vs noauth", "cpu-s vs noauth", "vs nginx-rev")
fmt = "%-14s %8s %5s %6s %6s %5s %5s %5s %9s %9s %5s %9s %15s %12s"
print(fmt % hdr)
for c in cands:
    rs = [runs[(c, r)] for r in rounds if (c, r) in runs]
    if not rs:
        continue
    rps = [x["rps"] for x in rs]
    m = med(rps)
    spread = (max(rps) - min(rps)) / m * 100 if m > 0 else 0
    vn = "%.3f" % ratio(c, "nginx-rev", "rps") if "nginx-rev" in cands else "-"
    print(fmt % (c, "%.0f" % m, "%.0f" % spread, "%.2f" % med([x["p50"] for x in rs]),
                 "%.2f" % med([x["p99"] for x in rs]), "%.0f" % med([x["pcpu"] for x in rs]),
                 "%.0f" % med([x["ccpu"] for x in rs]), "%.0f" % med([x["ocpu"] for x in rs]),
                 "%.0f" % med([x["rpc"] for x in rs]), sum(x["hits"] for x in rs),
                 sum(x["errs"] for x in rs), "%.3f" % ratio(c, "noauth", "rps"),
                 "%.3f" % ratio(c, "noauth", "rpc"), vn))
print()
starved = [c for c in cands if c != "nginx-rev" and
           med([runs[(c, r)]["pcpu"] for r in rounds if (c, r) in runs]) < 80]
if starved:
    print("WARNING: the proxy had less than 80 %% of its core (%s): other processes took the rest,"
          % ", ".join(starved))
    print("  and req/s measures the machine's load as much as the proxy; req/cpu-s is steadier")
print("req/s, latencies and CPU: median over rounds; +-%: (max - min) / median of req/s;")
print("'vs': median over rounds of the ratio to that candidate in the same round (req/s, or")
print("req/cpu-s: requests per proxy CPU second); pCPU/cCPU/oCPU: proxy, wrk, origin, % of one core")
goal = [c for c in ("apikey", "rs256", "es256") if c in cands]
bad = [c for c in cands if any(runs[(c, r)]["errs"] > 0 or runs[(c, r)]["rps"] == 0
                               for r in rounds if (c, r) in runs)]
if bad:
    print("INVALID: runs with errors or without a result: %s (their figures mean nothing)"
          % ", ".join(bad))
if goal:
    miss = [c for c in goal if not ratio(c, "noauth", "rps") >= 0.85]
    def verdict(c):
        if c in bad or "noauth" in bad:
            return "not judged (errors)"
        return "MISSED" if c in miss else "met"
    print("goal (issue 15: within 15 %% of noauth in req/s): %s" %
          ", ".join("%s %s" % (c, verdict(c)) for c in goal))
    # the same in CPU per request: what the auth costs the proxy, whether
    # or not the proxy had its whole core (see the WARNING above)
    print("  in req/cpu-s: %s" % ", ".join("%s %.3f" % (c, ratio(c, "noauth", "rpc")) for c in goal))
    sys.exit(3 if miss or bad else 0)
PY
} | tee "$W/report.txt"
GOAL=${PIPESTATUS[0]}

# ------------------------------------------------------------------ perf --
for c in ${GB_PERF:-}; do
    [[ " $CANDS " == *" $c "* ]] || { log "GB_PERF: $c is not a candidate"; continue; }
    d=$W/c-$c
    log "perf: one unmeasured run of $c with perf record -g"
    start_cand "$c"; check_cand "$c"
    load "$c" "$WARMUP" "$d/perf.warmup"
    ( pin "$CPU_CLIENT" timeout -k 5 $((DURATION + 60)) perf record -g -q -o "$d/perf.data" \
        -p "$CPID" -- sleep "$DURATION" ) > "$d/perf.log" 2>&1 &
    ppid=$!
    load "$c" "$DURATION" "$d/perf.out"
    wait "$ppid"
    stop_pid "$CPID"
    perf report -i "$d/perf.data" --stdio --no-children --percent-limit 1 -g none \
        --sort symbol > "$d/perf.txt" 2> "$d/perf.err"
    perf report -i "$d/perf.data" --stdio --children --percent-limit 3 -g none \
        --sort symbol > "$d/perf-children.txt" 2>> "$d/perf.err"
    echo "== perf $c: self time by symbol (>= 1 %); inclusive in $d/perf-children.txt"
    grep -v '^#' "$d/perf.txt" | grep -v '^$' | head -n 40
done

[ "$FAIL" = 0 ] || { log "some runs had errors (see above): the figures are not valid"; exit 1; }
[ -n "${GB_STRICT:-}" ] && [ "$GOAL" = 3 ] && exit 3
exit 0
