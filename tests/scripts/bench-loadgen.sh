#!/usr/bin/env bash
# The load generator (`smtp-load`, smtp-proto-tokio/examples/loadgen) against Postfix's
# smtp-source, on loopback, run by hand (never in CI: the figures move with the machine).
#
# Usage: tests/scripts/bench-loadgen.sh [--quick] [--rounds N] [--no-build] [--threads N]
#                                        [--latency-only]
#   --quick      fewer messages and a shorter latency run (a smoke run: noisier)
#   --latency-only  only figure 4 (RATE=msg/s, default 1000; LATENCY_SECONDS, default 10)
#   --rounds N   rounds per row (default 3); each round runs every client of the row in turn
#   --no-build   use the release binaries as they are
#   --threads N  smtp-load's --threads (default 1: one runtime thread, the cheapest on 2 cores)
#
# 1) Same sink (smtp-sink), same settings: 20 sessions, 1,000-byte messages, a connection
#    per message and reused connections; in each round smtp-source, then smtp-load with
#    --pipelining off (the same wire exchange as smtp-source, which never pipelines), then
#    smtp-load as it runs by default (pipelining when offered; smtp-sink offers it).
#    msg/s = messages / the client's wall time; client CPU µs/msg = the client's user +
#    system time (/usr/bin/time) / messages; medians of the rounds.
# 2) Pipelining on: smtp-load against blackhole and against smtp-sink, same settings.
# 4) Latency per phase at a fixed rate (open loop, --rate) against blackhole and smtp-sink:
#    p50 / p99 / p99.9 in ms from smtp-load's JSON. Postfix smtpd is not run here (a private
#    instance needs the test harness: `SMTP_LOAD_BIN=$PWD/target/release/examples/smtp-load
#    cargo test -p smtp-proto-tests --test loadgen -- --ignored postfix_latency --nocapture`
#    prints the same table for it).
#
# Exit 1 if a client run fails; 2 for bad usage or a missing tool.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
REL=$ROOT/target/release/examples
QUICK=0
ROUNDS=3
BUILD=1
THREADS=1
LATENCY_ONLY=0
while [ $# -gt 0 ]; do
    case $1 in
        --quick) QUICK=1; shift ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --threads) THREADS=$2; shift 2 ;;
        --latency-only) LATENCY_ONLY=1; shift ;;
        *) sed -n '2,24p' "$0" >&2; exit 2 ;;
    esac
done

if ! [ -x /usr/sbin/smtp-source ] || ! [ -x /usr/sbin/smtp-sink ]; then
    echo "installing postfix (smtp-sink, smtp-source)" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix >/dev/null
fi
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (package time)" >&2; exit 2; }
if [ "$BUILD" = 1 ]; then
    (cd "$ROOT" && cargo build -q --release -p smtp-proto-tokio --example smtp-load --example blackhole)
fi
for bin in smtp-load blackhole; do
    [ -x "$REL/$bin" ] || { echo "missing $REL/$bin" >&2; exit 2; }
done
ulimit -n 65536 2>/dev/null || true

if [ "$QUICK" = 1 ]; then N=4000; LAT_S=3; else N=20000; LAT_S=10; fi
LAT_S=${LATENCY_SECONDS:-$LAT_S}
RATE=${RATE:-1000}

WORK=$(mktemp -d /tmp/bench-loadgen.XXXXXX)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() {
    for _ in $(seq 100); do
        python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),1).close()" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "nothing listens on port $1" >&2
    return 1
}

SINK_PORT=$(free_port)
/usr/sbin/smtp-sink -u nobody "127.0.0.1:$SINK_PORT" 1000 >"$WORK/smtp-sink.log" 2>&1 &
PIDS+=("$!")
BH_PORT=$(free_port)
"$REL/blackhole" --listen "127.0.0.1:$BH_PORT" --quiet --max-connections 1000 \
    >"$WORK/blackhole.log" 2>&1 &
PIDS+=("$!")
wait_port "$SINK_PORT"
wait_port "$BH_PORT"

FAILED=0

# measure MESSAGES COMMAND...: prints "msg/s cpu-µs/msg" of one client run ("0 0" if it
# failed): wall and CPU (user + system) of the client process, from /usr/bin/time.
measure() {
    local messages=$1 rc
    shift
    set +e
    timeout 600 /usr/bin/time -f '%e %U %S' -o "$WORK/time" "$@" >"$WORK/out" 2>"$WORK/err"
    rc=$?
    set -e
    if [ "$rc" != 0 ]; then
        echo "$*: exit $rc: $(tail -c 300 "$WORK/err") $(head -c 300 "$WORK/out")" >&2
        touch "$WORK/failed"
        echo "0 0"
        return
    fi
    awk -v n="$messages" '{ printf "%.0f %.1f\n", n/$1, ($2+$3)*1e6/n }' "$WORK/time"
}

median() {
    printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END{ if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2 }'
}

ratio() {
    awk -v x="$1" -v y="$2" 'BEGIN{ if (y>0) printf "%.2f", x/y; else print "n/a" }'
}

LOAD=("$REL/smtp-load" --quiet --threads "$THREADS" --sessions 20 --messages "$N" --size 1000)

echo "# bench-loadgen: $(date -u +%FT%TZ), $(nproc) cores, rounds $ROUNDS, $N messages$([ "$QUICK" = 1 ] && echo ', --quick'), smtp-load --threads $THREADS"
echo "# smtp-sink 127.0.0.1:$SINK_PORT | blackhole 127.0.0.1:$BH_PORT"

# --- 1) smtp-load vs smtp-source, same sink --------------------------------------------
ROWS1=("connection per message||" "reused connections|-d|--reuse $N")
ROWS2=("connection per message|" "reused connections|--reuse $N")
if [ "$LATENCY_ONLY" = 1 ]; then ROWS1=(); ROWS2=(); fi
T1="| row | smtp-source msg/s | smtp-load, no pipelining, msg/s | × | smtp-load, default (pipelining) msg/s | × | client CPU µs/msg: smtp-source | smtp-load, no pipelining | × | smtp-load, default | × | load avg |
|---|---|---|---|---|---|---|---|---|---|---|---|"
for row in "${ROWS1[@]}"; do
    IFS='|' read -r name source_args load_args <<<"$row"
    a=() b=() c=() ca=() cb=() cc=()
    for r in $(seq "$ROUNDS"); do
        # shellcheck disable=SC2086
        read -r v u < <(measure "$N" /usr/sbin/smtp-source -s 20 -m "$N" -l 1000 $source_args "127.0.0.1:$SINK_PORT")
        a+=("$v"); ca+=("$u")
        # shellcheck disable=SC2086
        read -r v u < <(measure "$N" "${LOAD[@]}" $load_args --pipelining off --server "127.0.0.1:$SINK_PORT")
        b+=("$v"); cb+=("$u")
        # shellcheck disable=SC2086
        read -r v u < <(measure "$N" "${LOAD[@]}" $load_args --server "127.0.0.1:$SINK_PORT")
        c+=("$v"); cc+=("$u")
        echo "# 1) $name, round $r: msg/s (client CPU µs/msg): smtp-source ${a[-1]} (${ca[-1]})," \
            "smtp-load no pipelining ${b[-1]} (${cb[-1]}), smtp-load default ${c[-1]} (${cc[-1]})" >&2
    done
    ma=$(median "${a[@]}") mb=$(median "${b[@]}") mc=$(median "${c[@]}")
    ua=$(median "${ca[@]}") ub=$(median "${cb[@]}") uc=$(median "${cc[@]}")
    T1+=$'\n'"| $name | $ma | $mb | $(ratio "$mb" "$ma") | $mc | $(ratio "$mc" "$ma") | $ua | $ub | $(ratio "$ub" "$ua") | $uc | $(ratio "$uc" "$ua") | $(cut -d' ' -f1 /proc/loadavg) |"
done

# --- 2) pipelining on: blackhole vs smtp-sink -------------------------------------------
T2="| row | smtp-sink msg/s | blackhole msg/s | blackhole / smtp-sink | client CPU µs/msg: smtp-sink run | blackhole run |
|---|---|---|---|---|---|"
for row in "${ROWS2[@]}"; do
    IFS='|' read -r name load_args <<<"$row"
    a=() b=() ca=() cb=()
    for r in $(seq "$ROUNDS"); do
        # shellcheck disable=SC2086
        read -r v u < <(measure "$N" "${LOAD[@]}" $load_args --server "127.0.0.1:$SINK_PORT")
        a+=("$v"); ca+=("$u")
        # shellcheck disable=SC2086
        read -r v u < <(measure "$N" "${LOAD[@]}" $load_args --server "127.0.0.1:$BH_PORT")
        b+=("$v"); cb+=("$u")
        echo "# 2) $name, round $r: msg/s: smtp-sink ${a[-1]}, blackhole ${b[-1]}" >&2
    done
    ma=$(median "${a[@]}") mb=$(median "${b[@]}")
    T2+=$'\n'"| $name, pipelined | $ma | $mb | $(ratio "$mb" "$ma") | $(median "${ca[@]}") | $(median "${cb[@]}") |"
done

# --- 4) latency per phase at a fixed rate -----------------------------------------------
T4="| server | phase | count | p50 ms | p99 ms | p99.9 ms | max ms |
|---|---|---|---|---|---|---|"
for target in "smtp-sink|$SINK_PORT" "blackhole|$BH_PORT"; do
    IFS='|' read -r name port <<<"$target"
    set +e
    "$REL/smtp-load" --quiet --threads "$THREADS" --sessions 20 --rate "$RATE" \
        --duration "$LAT_S" --size 1000 --server "127.0.0.1:$port" --json "$WORK/lat.json" \
        >"$WORK/out" 2>"$WORK/err"
    rc=$?
    set -e
    if [ "$rc" != 0 ]; then
        echo "latency run against $name: exit $rc: $(tail -c 300 "$WORK/err")" >&2
        FAILED=1
        continue
    fi
    T4+=$'\n'$(python3 - "$WORK/lat.json" "$name" <<'EOF'
import json, sys
report = json.load(open(sys.argv[1]))
rows = []
order = ["connect", "tls", "greeting", "ehlo", "starttls", "auth", "mail", "rcpt", "data",
         "end_of_data", "rset", "quit", "message"]
latency = report["latency_ms"]
for phase in sorted(latency, key=lambda p: order.index(p) if p in order else len(order)):
    v = latency[phase]
    rows.append(f"| {sys.argv[2]} | {phase} | {v['count']} | {v['p50']:.3f} | {v['p99']:.3f} | {v['p99.9']:.3f} | {v['max']:.3f} |")
print("\n".join(rows))
EOF
)
done

echo
echo "## 1) smtp-load vs smtp-source (smtp-sink, 20 sessions, 1,000-byte messages)"
echo
echo "$T1"
echo
echo "## 2) a pipelining client (smtp-load): blackhole vs smtp-sink"
echo
echo "$T2"
echo
echo "## 4) latency per phase at $RATE msg/s for $LAT_S s (20 sessions, a connection per message, open loop)"
echo
echo "$T4"
if [ "$FAILED" = 1 ] || [ -e "$WORK/failed" ]; then
    echo "FAILED: a client run failed (see above)"
    exit 1
fi
echo "no failures"
