#!/usr/bin/env bash
# Relay throughput end to end (smtp-source → relay → blackhole, fsync on), beside Postfix
# relaying to its own blackhole (relayhost), alternating in one run; prints a table of
# messages/s and ratios. Run by hand (never in CI: the figures move with the machine), as
# root (a private Postfix instance needs it), on a quiet machine.
#   RELAY_BENCH_MESSAGES=2000 tests/scripts/bench-relay.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! [ -x /usr/sbin/smtp-source ]; then
    echo "installing postfix (smtp-source, the relay to compare with)" >&2
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postfix >/dev/null
fi
exec cargo test --release -q -p smtp-proto-tests --test relay -- --ignored --nocapture relay_throughput_beside_postfix
