#!/usr/bin/env python3
"""N concurrent idle sessions against the tokio blackhole: greeting, memory, teardown.

For each kind (plain; TLS = EHLO, STARTTLS, handshake, EHLO again over TLS), a fresh
blackhole (`--max-connections 20000 --quiet`) gets N sessions opened from this one process
(non-blocking sockets + selectors, at most --window connecting at once). Every session must
be greeted with 220 (and, for TLS, finish the handshake and get 250 to its EHLO over TLS).
Then the server's VmRSS (/proc/PID/status) is compared with its value before the first
connection: RSS per session in KiB. Then every session is closed; the server's open fds
must fall back to their baseline (every session ended) and its RSS is read again. The
open/close cycle runs --cycles times on the same server. The first cycle gets fresh pages
from the kernel (a zeroed buffer costs only the pages touched); later cycles reuse freed
memory, which calloc must zero, so the worst cycle is the steady-state figure. Memory kept
by the allocator levels off after a few cycles (up to 5 here, for TLS; after that it moves
by a few MB either way); a leak grows with every session ever opened, so the RSS after the
last close is compared with the RSS after the middle cycle's close.

Checks (exit 1 if any fails): all N greeted (and TLS-ready) in every cycle; fds back to
baseline after each close; plain RSS per session, worst cycle, < --goal-kib (default:
under 10 KiB); RSS growth after close over the second half of the cycles < --leak-bytes
per session opened in it (256 B: a leaked session or buffer is more; allocator noise of a
few MB over 50,000 sessions is less).

Usage: tests/load/idle-sessions.py [-n 10000] [--kinds plain,tls] [--cycles 10]
Needs target/release/examples/blackhole (cargo build --release -p smtp-proto-tokio
--example blackhole). Run as root to raise the hard fd limit past 20,000.
"""

import argparse
import selectors
import socket
import ssl
import sys
import time

from loadlib import Blackhole, loadavg, proc_status, raise_nofile, settle


def take_reply(buf):
    """Splits one complete SMTP reply off `buf`: (code, rest) or None if incomplete."""
    start = 0
    while True:
        end = buf.find(b"\r\n", start)
        if end < 0:
            return None
        line = buf[start:end]
        if len(line) < 4 or line[3:4] != b"-":
            try:
                code = int(line[:3])
            except ValueError:
                code = -1
            return code, buf[end + 2 :]
        start = end + 2


class Conn:
    """One client session and where it is in its script."""

    __slots__ = ("sock", "state", "buf", "error")

    def __init__(self, sock):
        self.sock = sock
        self.state = "connect"
        self.buf = b""
        self.error = None


class Opener:
    """Opens N sessions with a bounded number in flight; one selector for all."""

    def __init__(self, addr, n, tls, source_ip, window, deadline):
        self.addr = addr
        self.n = n
        self.tls = tls
        self.source_ip = source_ip
        self.window = window
        self.deadline = deadline
        self.sel = selectors.DefaultSelector()
        self.conns = []
        self.in_flight = 0
        self.ready = 0
        self.failures = {}
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self.ctx.check_hostname = False
        self.ctx.verify_mode = ssl.CERT_NONE

    def fail(self, conn, why):
        """Ends a session's script with an error."""
        conn.error = why
        conn.state = "failed"
        self.failures[why] = self.failures.get(why, 0) + 1
        self.in_flight -= 1
        try:
            self.sel.unregister(conn.sock)
        except (KeyError, ValueError):
            pass

    def done(self, conn):
        """A session reached the idle state: stop watching it."""
        conn.state = "idle"
        self.ready += 1
        self.in_flight -= 1
        self.sel.unregister(conn.sock)

    def start_one(self):
        """Starts a non-blocking connect."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.bind((self.source_ip, 0))
        conn = Conn(sock)
        self.conns.append(conn)
        self.in_flight += 1
        err = sock.connect_ex(self.addr)
        if err not in (0, 115):  # EINPROGRESS
            self.fail(conn, f"connect errno {err}")
            return
        self.sel.register(sock, selectors.EVENT_WRITE, conn)

    def send(self, conn, data):
        """Sends a short command; a partial send on a fresh socket is a failure."""
        try:
            sent = conn.sock.send(data)
        except (OSError, ssl.SSLError) as e:
            self.fail(conn, f"send: {type(e).__name__}")
            return False
        if sent != len(data):
            self.fail(conn, "short send")
            return False
        return True

    def on_reply(self, conn, code):
        """Advances the script on a complete reply."""
        expect = {"greet": 220, "ehlo": 250, "starttls": 220, "ehlo2": 250}[conn.state]
        if code != expect:
            self.fail(conn, f"{conn.state}: got {code}, expected {expect}")
            return
        if conn.state == "greet":
            if not self.tls:
                self.done(conn)
            elif self.send(conn, b"EHLO load.test\r\n"):
                conn.state = "ehlo"
        elif conn.state == "ehlo":
            if self.send(conn, b"STARTTLS\r\n"):
                conn.state = "starttls"
        elif conn.state == "starttls":
            if conn.buf:
                self.fail(conn, "bytes after 220 to STARTTLS")
                return
            self.sel.unregister(conn.sock)
            conn.sock = self.ctx.wrap_socket(conn.sock, do_handshake_on_connect=False)
            conn.state = "handshake"
            self.sel.register(conn.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, conn)
            self.handshake(conn)
        elif conn.state == "ehlo2":
            self.done(conn)

    def handshake(self, conn):
        """Drives a non-blocking TLS handshake one step."""
        try:
            conn.sock.do_handshake()
        except ssl.SSLWantReadError:
            self.sel.modify(conn.sock, selectors.EVENT_READ, conn)
            return
        except ssl.SSLWantWriteError:
            self.sel.modify(conn.sock, selectors.EVENT_WRITE, conn)
            return
        except (OSError, ssl.SSLError) as e:
            self.fail(conn, f"handshake: {type(e).__name__}: {e}")
            return
        self.sel.modify(conn.sock, selectors.EVENT_READ, conn)
        if self.send(conn, b"EHLO load.test\r\n"):
            conn.state = "ehlo2"

    def readable(self, conn):
        """Reads what is there and handles every complete reply."""
        while True:
            try:
                data = conn.sock.recv(4096)
            except (BlockingIOError, ssl.SSLWantReadError):
                return
            except (OSError, ssl.SSLError) as e:
                self.fail(conn, f"{conn.state}: recv {type(e).__name__}")
                return
            if not data:
                self.fail(conn, f"{conn.state}: EOF")
                return
            conn.buf += data
            while conn.state in ("greet", "ehlo", "starttls", "ehlo2"):
                got = take_reply(conn.buf)
                if got is None:
                    break
                code, conn.buf = got
                self.on_reply(conn, code)
            if conn.state in ("idle", "failed", "handshake"):
                return
            if not (isinstance(conn.sock, ssl.SSLSocket) and conn.sock.pending()):
                return

    def event(self, conn):
        """Dispatches a selector event."""
        if conn.state == "connect":
            err = conn.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                self.fail(conn, f"connect errno {err}")
                return
            conn.state = "greet"
            self.sel.modify(conn.sock, selectors.EVENT_READ, conn)
        elif conn.state == "handshake":
            self.handshake(conn)
        else:
            self.readable(conn)

    def run(self):
        """Opens all N sessions; returns when all are idle or failed, or at the deadline."""
        started = 0
        while started < self.n or self.in_flight > 0:
            if time.monotonic() > self.deadline:
                break
            while started < self.n and self.in_flight < self.window:
                self.start_one()
                started += 1
            for key, _ in self.sel.select(timeout=1.0):
                self.event(key.data)
        for conn in self.conns:
            if conn.state not in ("idle", "failed"):
                self.fail(conn, f"{conn.state}: deadline")
        return self.ready


def wait_fds(pid, want, timeout):
    """Waits until the process has `want` fds or fewer; returns the last count."""
    end = time.monotonic() + timeout
    while True:
        fds = proc_status(pid)["fds"]
        if fds <= want or time.monotonic() > end:
            return fds
        time.sleep(0.2)


def run_kind(kind, args):
    """One fresh blackhole, --cycles open/measure/close cycles: (rows, summary, problems, final line)."""
    tls = kind == "tls"
    bh = Blackhole("--max-connections", "20000")
    base = settle(bh.pid, 1.0)
    rows, problems, after_close = [], [], []
    for cycle in range(args.cycles):
        # A distinct source address per cycle and kind: fresh ephemeral ports each time.
        source = f"127.0.{1 + (1 if tls else 0)}.{10 + cycle}"
        t0 = time.monotonic()
        opener = Opener(bh.addr, args.n, tls, source, args.window, t0 + args.deadline)
        ready = opener.run()
        open_s = time.monotonic() - t0
        idle = settle(bh.pid, args.settle)
        if ready != args.n:
            problems.append(f"{kind} cycle {cycle + 1}: {ready}/{args.n} ready; {opener.failures}")
        if not bh.alive():
            problems.append(f"{kind}: blackhole exited")
            break
        for conn in opener.conns:
            conn.sock.close()
        fds = wait_fds(bh.pid, base["fds"], 60)
        closed = settle(bh.pid, args.settle)
        if fds > base["fds"]:
            problems.append(f"{kind} cycle {cycle + 1}: {fds} fds after close, baseline {base['fds']}")
        after_close.append(closed["VmRSS"])
        per = (idle["VmRSS"] - base["VmRSS"]) / max(ready, 1)
        rows.append(
            {
                "kind": kind,
                "cycle": cycle + 1,
                "ready": ready,
                "open_s": open_s,
                "base": base["VmRSS"],
                "idle": idle["VmRSS"],
                "anon_per": (idle["RssAnon"] - base["RssAnon"]) / max(ready, 1),
                "per": per,
                "closed": closed["VmRSS"],
                "fds_idle": idle["fds"],
                "threads": idle["Threads"],
                "load": loadavg(),
            }
        )
    code, final, err = bh.stop()
    if code != 0:
        problems.append(f"{kind}: blackhole exit {code}: {err.strip()[-300:]}")
    steady = max((r["per"] for r in rows), default=0.0)
    if kind == "plain" and steady >= args.goal_kib:
        problems.append(f"plain: {steady:.2f} KiB per session, goal < {args.goal_kib} KiB")
    leak = None
    if len(after_close) >= 4:
        # The allocator settles over the first cycles; a leak keeps growing: compare the
        # close after the last cycle with the close after the middle one.
        mid = len(after_close) // 2 - 1
        leak = (after_close[-1] - after_close[mid]) * 1024 / ((len(after_close) - 1 - mid) * args.n)
        if leak >= args.leak_bytes:
            problems.append(
                f"{kind}: RSS after close grew {leak:.0f} B per session opened over the "
                f"second half of the cycles (bound {args.leak_bytes} B)"
            )
    summary = {"kind": kind, "first": rows[0]["per"] if rows else 0.0, "steady": steady, "leak": leak}
    return rows, summary, problems, final


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-n", type=int, default=10_000, help="sessions open at once (default 10000)")
    p.add_argument("--kinds", default="plain,tls", help="plain, tls or plain,tls")
    p.add_argument("--cycles", type=int, default=10, help="open/close cycles per server (default 10)")
    p.add_argument("--window", type=int, default=200, help="sessions being set up at once")
    p.add_argument("--deadline", type=float, default=240, help="seconds to open N sessions")
    p.add_argument("--settle", type=float, default=2.0, help="seconds before each RSS reading")
    p.add_argument("--goal-kib", type=float, default=10.0, help="plain RSS per session bound")
    p.add_argument("--leak-bytes", type=int, default=256, help="bound on RSS growth after close per session, 2nd half")
    args = p.parse_args()
    limit = raise_nofile(args.n + 1000)
    if limit < args.n + 100:
        sys.exit(f"fd limit {limit} too low for {args.n} sessions (run as root)")
    all_rows, summaries, problems = [], [], []
    for kind in args.kinds.split(","):
        rows, summary, probs, final = run_kind(kind.strip(), args)
        all_rows += rows
        summaries.append(summary)
        problems += probs
        print(f"# {kind}: blackhole {final}", flush=True)
    print(f"\n{args.n} idle sessions per cycle (RSS in KiB; per session = (idle - base) / ready)")
    print("| kind | cycle | ready | open s | base RSS | idle RSS | KiB/session | anon KiB/session | after close | load |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in all_rows:
        print(
            f"| {r['kind']} | {r['cycle']} | {r['ready']} | {r['open_s']:.1f} | {r['base']} | "
            f"{r['idle']} | {r['per']:.2f} | {r['anon_per']:.2f} | {r['closed']} | {r['load']} |"
        )
    print("\n| kind | KiB/session, 1st cycle (fresh pages) | KiB/session, worst cycle (steady) | RSS growth after close, 2nd half of the cycles (B/session) |")
    print("|---|---|---|---|")
    for s in summaries:
        leak = "n/a (< 4 cycles)" if s["leak"] is None else f"{s['leak']:.0f}"
        print(f"| {s['kind']} | {s['first']:.2f} | {s['steady']:.2f} | {leak} |")
    for s in summaries:
        print(f"RESULT {s['kind']} first_kib={s['first']:.2f} steady_kib={s['steady']:.2f}")
    if problems:
        print("\nFAILED:")
        for prob in problems:
            print(f"  - {prob}")
        return 1
    print("\nall checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
