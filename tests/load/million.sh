#!/usr/bin/env bash
# One million messages from Postfix's smtp-source through `blackhole --maildir` on tmpfs:
# every 250 is a file in new/, no loss, no duplicate, nothing left in tmp/.
#
# Usage: tests/load/million.sh [-m MESSAGES] [-s SESSIONS] [-l LENGTH] [-t TIMEOUT_S] [--no-reuse]
#   defaults: -m 1000000 -s 20 -l 1000 -t 1800, connections reused (smtp-source -d)
#
# How the 250s are counted: smtp-source without -A dies (exit != 0) on any reply other
# than 2xx to the final dot, and its -c counter counts the dots it sent; so exit 0 and a
# final counter of MESSAGES mean MESSAGES replies 2xx (blackhole only answers 250 there).
# These must equal: blackhole's accepted count (its `final:` line, total - bounced), the
# files in new/, and the distinct Message-Id values in those files. smtp-source builds the
# Message-Id from its pid, the session's fd and its message countdown; with -d each session
# keeps its fd and its countdown only falls, so the Message-Id is unique per message sent
# (without -d an fd can be reused, so the duplicate check is then skipped). Every file must
# also have the same size give or take the Message-Id's few hex digits (no partial file).
#
# tmpfs: mounted on a fresh directory if mount(2) is allowed (root), else /dev/shm.
# Needs target/release/examples/blackhole; installs postfix (smtp-source) if missing.
# Exit 0 if every check passes, 1 otherwise.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BLACKHOLE=${BLACKHOLE:-$ROOT/target/release/examples/blackhole}
MESSAGES=1000000
SESSIONS=20
LENGTH=1000
TIMEOUT=1800
REUSE=-d
while [ $# -gt 0 ]; do
    case $1 in
        -m) MESSAGES=$2; shift 2 ;;
        -s) SESSIONS=$2; shift 2 ;;
        -l) LENGTH=$2; shift 2 ;;
        -t) TIMEOUT=$2; shift 2 ;;
        --no-reuse) REUSE=; shift ;;
        *) echo "usage: $0 [-m MESSAGES] [-s SESSIONS] [-l LENGTH] [-t TIMEOUT_S] [--no-reuse]" >&2; exit 2 ;;
    esac
done

if ! [ -x /usr/sbin/smtp-source ]; then
    echo "installing postfix (smtp-source)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix >/dev/null
fi
[ -x "$BLACKHOLE" ] || { echo "missing $BLACKHOLE: cargo build --release -p smtp-proto-tokio --example blackhole" >&2; exit 2; }
ulimit -n 65536 2>/dev/null || true

WORK=$(mktemp -d /tmp/million.XXXXXX)
MNT=$WORK/fs
mkdir -p "$MNT"
MOUNTED=0
# A 1000-byte message is one 4 KiB page plus an inode on tmpfs.
SIZE_MB=$(( MESSAGES * (4096 + LENGTH + 1024) / 1048576 + 256 ))
if mount -t tmpfs -o "size=${SIZE_MB}m,nr_inodes=$(( MESSAGES + 100000 ))" tmpfs "$MNT" 2>/dev/null; then
    MOUNTED=1
    FS="tmpfs mounted on $MNT (size ${SIZE_MB} MiB)"
else
    MNT=/dev/shm/million.$$
    mkdir -p "$MNT"
    FS="/dev/shm ($MNT): mount not allowed"
fi
MAILDIR=$MNT/maildir
BH_PID=

cleanup() {
    if [ -n "$BH_PID" ] && kill -0 "$BH_PID" 2>/dev/null; then kill -TERM "$BH_PID"; wait "$BH_PID" || true; fi
    if [ "$MOUNTED" = 1 ]; then umount "$MNT" || true; else rm -rf "$MNT"; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

"$BLACKHOLE" --listen 127.0.0.1:0 --maildir "$MAILDIR" --quiet --max-connections 1000 \
    >"$WORK/blackhole.out" 2>"$WORK/blackhole.err" &
BH_PID=$!
for _ in $(seq 100); do
    grep -q "^blackhole listening: smtp " "$WORK/blackhole.out" 2>/dev/null && break
    sleep 0.1
done
ADDR=$(awk '/^blackhole listening: smtp /{print $4; exit}' "$WORK/blackhole.out")
[ -n "$ADDR" ] || { echo "blackhole did not start:"; cat "$WORK/blackhole.err"; exit 1; }

LOAD_BEFORE=$(cut -d' ' -f1 /proc/loadavg)
T0=$EPOCHREALTIME
set +e
timeout "$TIMEOUT" /usr/sbin/smtp-source -c $REUSE -s "$SESSIONS" -m "$MESSAGES" -l "$LENGTH" "$ADDR" \
    >"$WORK/source.out" 2>"$WORK/source.err"
SOURCE_RC=$?
set -e
T1=$EPOCHREALTIME
LOAD_AFTER=$(cut -d' ' -f1 /proc/loadavg)

kill -TERM "$BH_PID"
set +e
wait "$BH_PID"
BH_RC=$?
set -e
BH_PID=
FINAL=$(grep '^final:' "$WORK/blackhole.out" || true)
# final: total N msg, X MB, B bounced, S sessions | ...
BH_TOTAL=$(sed -E 's/^final: total ([0-9]+) msg.*/\1/' <<<"$FINAL")
BH_BOUNCED=$(sed -E 's/.* ([0-9]+) bounced.*/\1/' <<<"$FINAL")
BH_ACCEPTED=$(( ${BH_TOTAL:-0} - ${BH_BOUNCED:-0} ))
COUNTER=$(tr '\r' '\n' <"$WORK/source.out" | grep -E '^[0-9]+$' | tail -n1 || true)
COUNTER=${COUNTER:-0}

NEW_FILES=$(find "$MAILDIR/new" -type f | wc -l)
TMP_FILES=$(find "$MAILDIR/tmp" -type f | wc -l)
CUR_FILES=$(find "$MAILDIR/cur" -type f | wc -l)
# Every Message-Id (first one in each file), then how many distinct and how many repeated.
(cd "$MAILDIR/new" && find . -type f -print0 | xargs -0 -r grep -h -m1 '^Message-Id:') >"$WORK/ids"
IDS=$(wc -l <"$WORK/ids")
DISTINCT_IDS=$(sort -u "$WORK/ids" | wc -l)
find "$MAILDIR/new" -type f -printf '%s\n' | sort -n | uniq -c >"$WORK/sizes"
SIZES=$(awk '{printf "%s×%s B  ", $1, $2}' "$WORK/sizes")
MIN_SIZE=$(awk 'NR==1{print $2}' "$WORK/sizes")
MAX_SIZE=$(awk 'END{print $2}' "$WORK/sizes")
WALL=$(awk -v a="$T0" -v b="$T1" 'BEGIN{printf "%.1f", b-a}')
RATE=$(awk -v n="$COUNTER" -v a="$T0" -v b="$T1" 'BEGIN{printf "%.0f", n/(b-a)}')

FAIL=()
[ "$SOURCE_RC" = 0 ] || FAIL+=("smtp-source exit $SOURCE_RC: $(tail -c 300 "$WORK/source.err")")
[ "$COUNTER" = "$MESSAGES" ] || FAIL+=("smtp-source sent $COUNTER of $MESSAGES")
[ "$BH_RC" = 0 ] || FAIL+=("blackhole exit $BH_RC: $(tail -c 300 "$WORK/blackhole.err")")
[ "${BH_BOUNCED:-x}" = 0 ] || FAIL+=("blackhole bounced ${BH_BOUNCED:-?}")
[ "$BH_ACCEPTED" = "$COUNTER" ] || FAIL+=("blackhole accepted $BH_ACCEPTED, 250 replies $COUNTER")
[ "$NEW_FILES" = "$COUNTER" ] || FAIL+=("files in new/ $NEW_FILES, 250 replies $COUNTER")
[ "$TMP_FILES" = 0 ] || FAIL+=("$TMP_FILES files left in tmp/")
[ "$CUR_FILES" = 0 ] || FAIL+=("$CUR_FILES files in cur/")
[ "$IDS" = "$NEW_FILES" ] || FAIL+=("$IDS Message-Id lines in $NEW_FILES files")
if [ -n "$REUSE" ]; then
    [ "$DISTINCT_IDS" = "$IDS" ] || FAIL+=("$(( IDS - DISTINCT_IDS )) duplicate Message-Ids")
fi
if [ -n "$MIN_SIZE" ] && [ $(( MAX_SIZE - MIN_SIZE )) -gt 4 ]; then
    FAIL+=("file sizes differ by more than the Message-Id digits: $SIZES")
fi
[ -n "${MIN_SIZE:-}" ] && [ "$MIN_SIZE" -gt "$LENGTH" ] || FAIL+=("smallest file ${MIN_SIZE:-none} B, body alone is $LENGTH B")

echo "| what | value |"
echo "|---|---|"
echo "| command | smtp-source -c $REUSE -s $SESSIONS -m $MESSAGES -l $LENGTH $ADDR |"
echo "| storage | $FS |"
echo "| wall time | $WALL s |"
echo "| rate | $RATE msg/s |"
echo "| 250 replies (smtp-source exit $SOURCE_RC, counter) | $COUNTER |"
echo "| blackhole accepted (final: total - bounced) | $BH_ACCEPTED ($FINAL) |"
echo "| files in new/ | $NEW_FILES |"
echo "| files left in tmp/, cur/ | $TMP_FILES, $CUR_FILES |"
echo "| Message-Ids: lines, distinct | $IDS, $DISTINCT_IDS |"
echo "| file sizes | $SIZES |"
echo "| load average before, after | $LOAD_BEFORE, $LOAD_AFTER |"
if [ ${#FAIL[@]} -gt 0 ]; then
    echo "FAILED:"
    printf '  - %s\n' "${FAIL[@]}"
    exit 1
fi
echo "all checks passed"
