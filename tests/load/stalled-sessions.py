#!/usr/bin/env python3
"""N sessions that send a burst of DATA and then stall: RSS per stalled session (issue 15).

A fresh blackhole (`--max-connections 20000 --quiet`, with `--maildir` in a temporary
directory unless --no-maildir) first gets N idle sessions (greeted, nothing sent): RSS per
idle session. They are closed; then N sessions each send EHLO, MAIL, RCPT, DATA and a burst
of --burst KiB of content (lines of 76 octets), and stop without ending the message. The
server's VmRSS (/proc/PID/status) after they settle, minus its value before, divided by N
is the RSS per stalled session. Each session's burst must be consumed (the server read it
all: its socket's send queue drains) before the next starts, so the server went through
its bulk reads for every one.

Checks (exit 1 if any fails): every session greeted and its DATA answered with 354; the
RSS per stalled session < --goal-kib (default 32 KiB, issue 15's bound).

Usage: tests/load/stalled-sessions.py [-n 300] [--burst 256] [--binary PATH]
Needs target/release/examples/blackhole (cargo build --release -p smtp-proto-tokio
--example blackhole), or --binary.
"""

import argparse
import shutil
import socket
import sys
import tempfile
import time

from loadlib import BLACKHOLE, Blackhole, loadavg, proc_status, raise_nofile, settle

LINE = b"x" * 74 + b"\r\n"


def expect(sock, code):
    """Reads one complete reply and checks its code."""
    buf = b""
    while True:
        data = sock.recv(4096)
        if not data:
            raise RuntimeError(f"EOF waiting for {code}")
        buf += data
        lines = buf.split(b"\r\n")
        for line in lines[:-1]:
            if len(line) >= 4 and line[3:4] != b"-":
                if int(line[:3]) != code:
                    raise RuntimeError(f"got {line!r}, expected {code}")
                return


def unsent(sock):
    """Octets in the socket's send queue (SIOCOUTQ)."""
    import fcntl
    import struct

    return struct.unpack("i", fcntl.ioctl(sock.fileno(), 0x5411, b"\0\0\0\0"))[0]


def open_idle(addr, n):
    """N greeted sessions."""
    socks = []
    for _ in range(n):
        sock = socket.create_connection(addr)
        expect(sock, 220)
        socks.append(sock)
    return socks


def open_stalled(addr, n, burst):
    """N sessions each stalled after a burst of `burst` octets of content."""
    socks = []
    content = LINE * (burst // len(LINE) + 1)
    content = b"Subject: stall\r\n\r\n" + content[:burst]
    for i in range(n):
        sock = socket.create_connection(addr)
        expect(sock, 220)
        sock.sendall(b"EHLO stall.test\r\n")
        expect(sock, 250)
        sock.sendall(f"MAIL FROM:<s{i}@stall.test>\r\n".encode())
        expect(sock, 250)
        sock.sendall(b"RCPT TO:<sink@stall.test>\r\n")
        expect(sock, 250)
        sock.sendall(b"DATA\r\n")
        expect(sock, 354)
        sock.sendall(content)
        end = time.monotonic() + 10
        while unsent(sock) > 0 and time.monotonic() < end:
            time.sleep(0.001)
        socks.append(sock)
    return socks


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-n", type=int, default=300, help="sessions (default 300, as in issue 15)")
    p.add_argument("--burst", type=int, default=256, help="KiB of content before the stall (default 256)")
    p.add_argument("--settle", type=float, default=2.0, help="seconds before each RSS reading")
    p.add_argument("--goal-kib", type=float, default=32.0, help="bound on RSS per stalled session")
    p.add_argument("--binary", default=BLACKHOLE, help="the blackhole to measure")
    p.add_argument("--no-maildir", action="store_true", help="do not store (no --maildir)")
    args = p.parse_args()
    raise_nofile(args.n + 200)
    tmp = tempfile.mkdtemp(prefix="stalled-")
    flags = ["--max-connections", "20000"]
    if not args.no_maildir:
        flags += ["--maildir", tmp]
    bh = Blackhole(*flags, binary=args.binary)
    problems = []
    try:
        base = settle(bh.pid, args.settle)
        idle_socks = open_idle(bh.addr, args.n)
        idle = settle(bh.pid, args.settle)
        for s in idle_socks:
            s.close()
        settle(bh.pid, args.settle)
        base2 = proc_status(bh.pid)
        try:
            stalled_socks = open_stalled(bh.addr, args.n, args.burst * 1024)
        except (OSError, RuntimeError) as e:
            problems.append(f"stalled sessions: {e}")
            stalled_socks = []
        stalled = settle(bh.pid, args.settle)
        if not bh.alive():
            problems.append("blackhole exited")
        for s in stalled_socks:
            s.close()
    finally:
        code, final, err = bh.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    idle_per = (idle["VmRSS"] - base["VmRSS"]) / args.n
    stalled_per = (stalled["VmRSS"] - base2["VmRSS"]) / max(len(stalled_socks), 1)
    anon_per = (stalled["RssAnon"] - base2["RssAnon"]) / max(len(stalled_socks), 1)
    print(f"binary: {args.binary}; maildir: {not args.no_maildir}; burst {args.burst} KiB; load {loadavg()}")
    print("| sessions | base RSS | idle RSS | KiB/idle session | base RSS (2) | stalled RSS | KiB/stalled session | anon KiB/stalled session |")
    print("|---|---|---|---|---|---|---|---|")
    print(
        f"| {args.n} | {base['VmRSS']} | {idle['VmRSS']} | {idle_per:.1f} | {base2['VmRSS']} | "
        f"{stalled['VmRSS']} | {stalled_per:.1f} | {anon_per:.1f} |"
    )
    print(f"RESULT idle_kib={idle_per:.1f} stalled_kib={stalled_per:.1f}")
    if stalled_per >= args.goal_kib:
        problems.append(f"{stalled_per:.1f} KiB per stalled session, goal < {args.goal_kib} KiB")
    if problems:
        print("\nFAILED:")
        for prob in problems:
            print(f"  - {prob}")
        return 1
    print("\nall checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
