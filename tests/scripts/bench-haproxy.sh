#!/usr/bin/env bash
# Scale-out on one machine: blackhole directly, then 1 and then 2 blackhole instances behind
# HAProxy (tests/haproxy/blackhole.cfg, PROXY v2), loaded by smtp-load. Run by hand (never
# in CI: the figures move with the machine and whatever else runs on it).
#
# Usage: tests/scripts/bench-haproxy.sh [--quick] [--rounds N] [--no-build]
#   --quick     fewer messages (a smoke run: noisier)
#   --rounds N  rounds per row (default 3); each round loads direct, 1 instance, 2 instances
#               (the order rotates from round to round)
#   --no-build  use the release binaries as they are
#
# Each blackhole runs --threads 1 --quiet (one core's worth each); "1 instance" is HAProxy
# with both server lines pointing at the same blackhole, "2 instances" at two. smtp-load:
# 20 sessions, 1,000-byte messages, --threads 1; rows: a connection per message, and
# reused connections (100 messages each). msg/s = messages / smtp-load's wall time, the
# median of the rounds; "2 / 1" is the median of the per-round ratios (run back to back,
# so it follows the machine's load less than the ratio of the medians). The load average
# is printed with every row: on a 2-core machine HAProxy, smtp-load and the blackholes
# share the cores, so a second instance cannot add a core's worth.
#
# Exit 1 if a client run fails; 2 for bad usage or a missing tool.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
REL=$ROOT/target/release/examples
QUICK=0
ROUNDS=3
BUILD=1
while [ $# -gt 0 ]; do
    case $1 in
        --quick) QUICK=1; shift ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        *) sed -n '2,21p' "$0" >&2; exit 2 ;;
    esac
done
command -v haproxy >/dev/null || { echo "needs haproxy (apt-get install haproxy)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (package time)" >&2; exit 2; }
if [ "$BUILD" = 1 ]; then
    (cd "$ROOT" && cargo build -q --release -p smtp-proto-tokio --example smtp-load --example blackhole)
fi
for bin in smtp-load blackhole; do
    [ -x "$REL/$bin" ] || { echo "missing $REL/$bin" >&2; exit 2; }
done
ulimit -n 65536 2>/dev/null || true
if [ "$QUICK" = 1 ]; then N=3000; else N=20000; fi

WORK=$(mktemp -d /tmp/bench-haproxy.XXXXXX)
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
        python3 -c "import socket; socket.create_connection(('127.0.0.1',$1),1).close()" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "nothing listens on port $1" >&2
    return 1
}

# blackhole NAME PORT [FLAGS...]
blackhole() {
    local name=$1 port=$2
    shift 2
    "$REL/blackhole" --listen "127.0.0.1:$port" --quiet --threads 1 --max-connections 1000 "$@" \
        >"$WORK/$name.log" 2>&1 &
    PIDS+=("$!")
}

# haproxy NAME BH1 BH2 FRONTEND
haproxy_for() {
    BH1="127.0.0.1:$2" BH2="127.0.0.1:$3" SMTP_BIND="127.0.0.1:$4" SMTP_BIND_V1="127.0.0.1:$(free_port)" \
        haproxy -db -f "$ROOT/tests/haproxy/blackhole.cfg" >"$WORK/$1.log" 2>&1 &
    PIDS+=("$!")
}

PROXIED=(--proxy-protocol v2 --trusted-proxy 127.0.0.1)
DIRECT=$(free_port); BH1=$(free_port); BH2=$(free_port)
blackhole direct "$DIRECT"
blackhole bh1 "$BH1" "${PROXIED[@]}"
blackhole bh2 "$BH2" "${PROXIED[@]}"
for p in "$DIRECT" "$BH1" "$BH2"; do wait_port "$p"; done
ONE=$(free_port); TWO=$(free_port)
haproxy_for one "$BH1" "$BH1" "$ONE"
haproxy_for two "$BH1" "$BH2" "$TWO"
wait_port "$ONE"; wait_port "$TWO"

# measure PORT EXTRA...: msg/s of one smtp-load run ("0" if it failed).
measure() {
    local port=$1 rc
    shift
    set +e
    timeout 600 /usr/bin/time -f '%e' -o "$WORK/time" "$REL/smtp-load" --quiet --threads 1 \
        --sessions 20 --messages "$N" --size 1000 --server "127.0.0.1:$port" "$@" \
        >"$WORK/out" 2>"$WORK/err"
    rc=$?
    set -e
    if [ "$rc" != 0 ]; then
        echo "smtp-load --server 127.0.0.1:$port $*: exit $rc: $(tail -c 300 "$WORK/err")" >&2
        touch "$WORK/failed"
        echo 0
        return
    fi
    awk -v n="$N" '{ printf "%.0f\n", n/$1 }' "$WORK/time"
}

median() {
    printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END{ if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2 }'
}

ratio() {
    awk -v x="$1" -v y="$2" 'BEGIN{ if (y>0) printf "%.2f", x/y; else print "n/a" }'
}

echo "# bench-haproxy: $(date -u +%FT%TZ), $(nproc) cores, rounds $ROUNDS, $N messages per run$([ "$QUICK" = 1 ] && echo ', --quick'), $(haproxy -v | head -1 | cut -d' ' -f1-3)"
TABLE="| row | direct msg/s | 1 instance via HAProxy | 2 instances via HAProxy | 2 / 1 (paired) | HAProxy / direct | load avg |
|---|---|---|---|---|---|---|"
ROWS=("connection per message|" "reused connections (100 per connection)|--reuse 100")
for row in "${ROWS[@]}"; do
    IFS='|' read -r name extra <<<"$row"
    d=(); a=(); b=(); pr=()
    for r in $(seq "$ROUNDS"); do
        order=("direct" "one" "two")
        for _ in $(seq $(( (r - 1) % 3 ))); do order=("${order[@]:1}" "${order[0]}"); done
        for what in "${order[@]}"; do
            # shellcheck disable=SC2086
            case $what in
                direct) x=$(measure "$DIRECT" $extra); d+=("$x") ;;
                one) x=$(measure "$ONE" $extra); a+=("$x") ;;
                two) x=$(measure "$TWO" $extra); b+=("$x") ;;
            esac
        done
        pr+=("$(ratio "${b[-1]}" "${a[-1]}")")
        echo "# $name, round $r: direct ${d[-1]}, 1 instance ${a[-1]}, 2 instances ${b[-1]} msg/s" >&2
    done
    md=$(median "${d[@]}"); ma=$(median "${a[@]}"); mb=$(median "${b[@]}")
    TABLE+=$'\n'"| $name | $md | $ma | $mb | $(median "${pr[@]}") | $(ratio "$ma" "$md") | $(cut -d' ' -f1-3 /proc/loadavg) |"
done
echo "$TABLE"
[ -e "$WORK/failed" ] && exit 1
exit 0
