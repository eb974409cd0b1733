#!/usr/bin/env bash
# End-to-end benchmark: Postfix's smtp-sink, our tokio blackhole and our blocking
# `sink` example side by side on loopback, loaded in turn by Postfix's smtp-source.
#
# Usage: tests/scripts/bench-e2e.sh [--quick] [--rounds N] [--no-idle] [--no-build] [--strict]
#   --quick     fewer messages (a smoke run: the ratios are noisier)
#   --rounds N  rounds per row (default 3); each round loads smtp-sink, blackhole, sink in turn
#   --no-idle   skip the idle-session RSS figures (tests/load/idle-sessions.py)
#   --no-build  use the release binaries as they are
#   BLACKHOLE_ARGS="..." (environment): extra flags for blackhole, e.g. "--threads 1"
#   --strict    also exit 1 when a target is missed (blackhole < 1.2x smtp-sink, or idle
#               plain RSS per session >= 10 KiB)
#
# Rows (20 parallel sessions each; msg/s = messages / wall time of smtp-source; the median
# of the rounds): 1) a connection per message, 1000-byte messages; 2) the same over reused
# connections (-d); 3) 100 KB messages over reused connections; 4) 10 recipients per
# message over reused connections. blackhole runs forgetting (no Maildir), --quiet,
# --max-connections 1000; smtp-sink with a backlog of 1000; sink's per-message lines go to
# /dev/null. All three stay up for the whole run; only one is loaded at a time.
# Wall-clock rates move with whatever else runs on the machine; each server's own CPU time
# per message (user + system from /proc/PID/stat, the median of the rounds) is printed
# beside them and moves much less. Each round also gives a paired ratio (blackhole /
# smtp-sink of that round, run back to back; even rounds load blackhole first), and the
# "paired" column is their median: it follows the machine's load less than the ratio of
# the medians.
#
# Exit 1 if any smtp-source run fails (it dies on any reply other than 2xx) or an
# idle-session check fails; 2 for bad usage or a missing tool.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
REL=$ROOT/target/release/examples
QUICK=0
ROUNDS=3
IDLE=1
BUILD=1
STRICT=0
while [ $# -gt 0 ]; do
    case $1 in
        --quick) QUICK=1; shift ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        --no-idle) IDLE=0; shift ;;
        --no-build) BUILD=0; shift ;;
        --strict) STRICT=1; shift ;;
        *) sed -n '2,13p' "$0" >&2; exit 2 ;;
    esac
done

if ! [ -x /usr/sbin/smtp-source ] || ! [ -x /usr/sbin/smtp-sink ]; then
    echo "installing postfix (smtp-sink, smtp-source)" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix >/dev/null
fi
if [ "$BUILD" = 1 ]; then
    (cd "$ROOT" && cargo build -q --release -p smtp-proto-tokio --example blackhole \
        && cargo build -q --release -p smtp-proto-blocking --example sink)
fi
for bin in blackhole sink; do
    [ -x "$REL/$bin" ] || { echo "missing $REL/$bin" >&2; exit 2; }
done
ulimit -n 65536 2>/dev/null || true

if [ "$QUICK" = 1 ]; then SMALL=4000; BIG=1000; else SMALL=20000; BIG=5000; fi
ROWS=(
    "connection per message|-s 20 -m $SMALL -l 1000|$SMALL"
    "reused connections|-s 20 -m $SMALL -l 1000 -d|$SMALL"
    "100 KB messages|-s 20 -m $BIG -l 100000 -d|$BIG"
    "10 recipients|-s 20 -m $SMALL -l 1000 -r 10 -d|$SMALL"
)

WORK=$(mktemp -d /tmp/bench-e2e.XXXXXX)
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

HZ=$(getconf CLK_TCK)
SINK_PORT=$(free_port)
/usr/sbin/smtp-sink -u nobody "127.0.0.1:$SINK_PORT" 1000 >"$WORK/smtp-sink.log" 2>&1 &
SINK_PID=$!
PIDS+=("$SINK_PID")
BH_PORT=$(free_port)
# shellcheck disable=SC2086
"$REL/blackhole" --listen "127.0.0.1:$BH_PORT" --quiet --max-connections 1000 \
    ${BLACKHOLE_ARGS:-} >"$WORK/blackhole.log" 2>&1 &
BH_PID=$!
PIDS+=("$BH_PID")
BLK_PORT=$(free_port)
"$REL/sink" "127.0.0.1:$BLK_PORT" >/dev/null 2>"$WORK/sink.err" &
BLK_PID=$!
PIDS+=("$BLK_PID")
wait_port "$SINK_PORT"
wait_port "$BH_PORT"
wait_port "$BLK_PORT"

FAILURES=()

# CPU time (user and system, clock ticks) a process and its threads have used so far.
cpu_ticks() {
    awk '{print $14, $15}' "/proc/$1/stat"
}

# run PORT PID ARGS MESSAGES: prints "msg/s cpu-µs/msg user-µs/msg" of one smtp-source run
# against the server PID ("0 0 0" if it failed). CPU per message is the server's own
# (user + system; the user part alone is the third figure: the rest is the kernel's).
run() {
    local port=$1 pid=$2 args=$3 messages=$4 t0 t1 rc u0 s0 u1 s1
    read -r u0 s0 < <(cpu_ticks "$pid")
    t0=$EPOCHREALTIME
    set +e
    # shellcheck disable=SC2086
    timeout 600 /usr/sbin/smtp-source $args "127.0.0.1:$port" >/dev/null 2>"$WORK/source.err"
    rc=$?
    set -e
    t1=$EPOCHREALTIME
    read -r u1 s1 < <(cpu_ticks "$pid")
    if [ "$rc" != 0 ]; then
        echo "smtp-source $args 127.0.0.1:$port: exit $rc: $(tail -c 200 "$WORK/source.err")" >&2
        echo "0 0 0"
        return
    fi
    awk -v n="$messages" -v a="$t0" -v b="$t1" -v c="$((u1 - u0 + s1 - s0))" \
        -v u="$((u1 - u0))" -v hz="$HZ" \
        'BEGIN{printf "%.0f %.1f %.1f\n", n/(b-a), c*1e6/hz/n, u*1e6/hz/n}'
}

median() {
    printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END{ if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2 }'
}

echo "# bench-e2e: $(date -u +%FT%TZ), $(nproc) cores, rounds $ROUNDS$([ "$QUICK" = 1 ] && echo ', --quick')"
echo "# smtp-sink 127.0.0.1:$SINK_PORT | blackhole 127.0.0.1:$BH_PORT | sink 127.0.0.1:$BLK_PORT"
TABLE="| row | smtp-source args | smtp-sink msg/s | blackhole msg/s | blackhole / smtp-sink | paired | target ≥ 1.2× | blocking sink msg/s | sink / smtp-sink | server CPU µs/msg: smtp-sink, blackhole, sink | of which user | load avg |
|---|---|---|---|---|---|---|---|---|---|---|---|"
MISSED=0
for row in "${ROWS[@]}"; do
    IFS='|' read -r name args messages <<<"$row"
    a=() b=() c=() ca=() cb=() cc=() ua=() ub=() uc=() p=()
    for r in $(seq "$ROUNDS"); do
        if [ $((r % 2)) = 0 ]; then
            read -r v u w < <(run "$BH_PORT" "$BH_PID" "$args" "$messages")
            b+=("$v"); cb+=("$u"); ub+=("$w")
        fi
        read -r v u w < <(run "$SINK_PORT" "$SINK_PID" "$args" "$messages")
        a+=("$v"); ca+=("$u"); ua+=("$w")
        if [ $((r % 2)) = 1 ]; then
            read -r v u w < <(run "$BH_PORT" "$BH_PID" "$args" "$messages")
            b+=("$v"); cb+=("$u"); ub+=("$w")
        fi
        p+=("$(awk -v x="${b[-1]}" -v y="${a[-1]}" 'BEGIN{ if (y>0) printf "%.3f", x/y; else print 0 }')")
        read -r v u w < <(run "$BLK_PORT" "$BLK_PID" "$args" "$messages")
        c+=("$v"); cc+=("$u"); uc+=("$w")
        echo "# $name, round $r: msg/s (server CPU µs/msg, of which user): smtp-sink ${a[-1]}" \
            "(${ca[-1]}, ${ua[-1]}), blackhole ${b[-1]} (${cb[-1]}, ${ub[-1]})," \
            "sink ${c[-1]} (${cc[-1]}, ${uc[-1]})" >&2
    done
    for v in "${a[@]}" "${b[@]}" "${c[@]}"; do
        [ "$v" != 0 ] || FAILURES+=("$name: an smtp-source run failed")
    done
    ma=$(median "${a[@]}") mb=$(median "${b[@]}") mc=$(median "${c[@]}")
    ratio=$(awk -v x="$mb" -v y="$ma" 'BEGIN{ if (y>0) printf "%.2f", x/y; else print "n/a" }')
    bratio=$(awk -v x="$mc" -v y="$ma" 'BEGIN{ if (y>0) printf "%.2f", x/y; else print "n/a" }')
    paired=$(median "${p[@]}" | awk '{printf "%.2f", $1}')
    met=$(awk -v r="$ratio" 'BEGIN{ print (r+0 >= 1.2) ? "met" : "missed" }')
    [ "$met" = met ] || MISSED=1
    cpu="$(median "${ca[@]}"), $(median "${cb[@]}"), $(median "${cc[@]}")"
    user="$(median "${ua[@]}"), $(median "${ub[@]}"), $(median "${uc[@]}")"
    TABLE+=$'\n'"| $name | \`$args\` | $ma | $mb | $ratio | $paired | $met | $mc | $bratio | $cpu | $user | $(cut -d' ' -f1 /proc/loadavg) |"
done
echo
echo "$TABLE"

if [ "$IDLE" = 1 ]; then
    if [ "$QUICK" = 1 ]; then N=2000; else N=10000; fi
    GOAL=1000000000
    [ "$STRICT" = 1 ] && GOAL=10
    echo
    echo "# idle sessions: tests/load/idle-sessions.py -n $N (RSS per session, KiB)"
    set +e
    python3 "$ROOT/tests/load/idle-sessions.py" -n "$N" --goal-kib "$GOAL" >"$WORK/idle.out" 2>&1
    IDLE_RC=$?
    set -e
    sed -n '/^| kind | KiB\/session, 1st/,/^$/p' "$WORK/idle.out"
    if [ "$IDLE_RC" != 0 ]; then
        sed -n '/^FAILED:/,$p' "$WORK/idle.out"
        FAILURES+=("idle sessions: tests/load/idle-sessions.py exit $IDLE_RC")
    fi
fi

if [ ${#FAILURES[@]} -gt 0 ]; then
    echo "FAILED:"
    printf '  - %s\n' "${FAILURES[@]}"
    exit 1
fi
if [ "$STRICT" = 1 ] && [ "$MISSED" = 1 ]; then
    echo "a target was missed (--strict)"
    exit 1
fi
echo "no failures"
