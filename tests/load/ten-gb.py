#!/usr/bin/env python3
"""A 10 GB message through DATA and another through BDAT: blackhole's RSS stays flat.

One blackhole (forgetting: no Maildir) with --max-message-size just above the message
size. Each message's content is generated on the fly from a 1 MiB block of CRLF lines of
about 1000 bytes, every seventh starting with '.': through DATA those lines are sent
dot-stuffed ('..'), through BDAT as they are, in 1 MiB chunks (`BDAT 1048576`, the
remainder with LAST) with up to --window chunks unacknowledged, their 250s read by a
second thread. MAIL carries SIZE=<content size>. A third thread samples the server's
VmRSS (/proc/PID/status) every second.

Checks (exit 1 if any fails): 250 to the final dot and to every BDAT; blackhole's `final:`
line counts 2 messages, none bounced, and content MB (10^6) equal to what was sent after
unstuffing (to its 2 decimals); for each message, max RSS − RSS at its start < --flat-mib
(default 64 MiB).

Usage: tests/load/ten-gb.py [--gb 10] [--only data|bdat] [--flat-mib 64]
"""

import argparse
import socket
import sys
import threading
import time

from loadlib import Blackhole, loadavg, parse_final, proc_status

CHUNK = 1 << 20
"""BDAT chunk size, and the size of the generated block."""


def make_block():
    """A 1 MiB block of CRLF lines (content, unstuffed) and its dot-stuffed wire form."""
    lines, size, i = [], 0, 0
    while True:
        body = f"{i:06d} " + "abcdefghijklmnopqrstuvwxyz0123456789" * 27
        line = ("." if i % 7 == 0 else "") + body[: 990 + (i * 37) % 20]
        raw = line.encode() + b"\r\n"
        if size + len(raw) > CHUNK:
            break
        lines.append(raw)
        size += len(raw)
        i += 1
    # Pad with one last line so the block is exactly CHUNK bytes.
    pad = CHUNK - size
    if pad >= 3:
        lines.append(b"p" * (pad - 2) + b"\r\n")
    content = b"".join(lines)
    wire = b"".join((b"." + l if l.startswith(b".") else l) for l in lines)
    assert len(content) == CHUNK, len(content)
    return content, wire


HEADER = b"From: <load@test.example>\r\nTo: <sink@test.example>\r\nSubject: ten-gb\r\n\r\n"


class Sampler(threading.Thread):
    """Reads VmRSS every second until stopped."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid = pid
        self.samples = []
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.is_set():
            try:
                self.samples.append((time.monotonic(), proc_status(self.pid)["VmRSS"]))
            except OSError:
                return
            self.stopped.wait(1.0)

    def between(self, t0, t1):
        """The samples taken in [t0, t1]."""
        return [rss for t, rss in self.samples if t0 <= t <= t1]


class Client:
    """A blocking SMTP client on one socket."""

    def __init__(self, addr):
        self.sock = socket.create_connection(addr)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def reply(self):
        """Reads one complete reply: (code, text)."""
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                data = self.sock.recv(65536)
                if not data:
                    raise ConnectionError(f"EOF; read so far {lines}")
                self.buf += data
            line, self.buf = self.buf.split(b"\r\n", 1)
            lines.append(line.decode(errors="replace"))
            if len(line) < 4 or line[3:4] != b"-":
                return int(line[:3]), "\n".join(lines)

    def command(self, line, expect):
        """Sends a command line and checks the reply code."""
        self.sock.sendall(line.encode() + b"\r\n")
        code, text = self.reply()
        if code != expect:
            raise RuntimeError(f"{line!r}: expected {expect}, got {text!r}")
        return text


def plan(total):
    """Whole blocks to send and the tail length, for `total` content bytes (≥ one header)."""
    body = total - len(HEADER)
    return body // CHUNK, body % CHUNK


def send_data(client, total, content, wire):
    """The message through DATA; returns the content bytes (unstuffed) sent."""
    blocks, tail = plan(total)
    client.command("DATA", 354)
    sock = client.sock
    sock.sendall(HEADER)
    view = memoryview(wire)
    for _ in range(blocks):
        sock.sendall(view)
    # The tail: whole lines of the block, then padding to the exact size with one line.
    cut = content.rfind(b"\r\n", 0, max(tail - 64, 0)) + 2 if tail > 64 else 0
    part = content[:cut]
    rest = tail - len(part)
    filler = b"x" * (rest - 2) + b"\r\n" if rest >= 2 else b""
    stuffed = b"".join((b"." + l if l.startswith(b".") else l) for l in part.splitlines(keepends=True))
    sock.sendall(stuffed + filler + b".\r\n")
    code, text = client.reply()
    if code != 250:
        raise RuntimeError(f"end of DATA: {text!r}")
    return len(HEADER) + blocks * CHUNK + len(part) + len(filler)


def send_bdat(client, total, content, window):
    """The message through BDAT, 1 MiB chunks, up to `window` unacknowledged."""
    sock = client.sock
    body_blocks, tail = plan(total)
    # Chunks of exactly CHUNK bytes over HEADER + body; the content is the block repeated.
    stream_total = len(HEADER) + body_blocks * CHUNK + tail
    nchunks = (stream_total + CHUNK - 1) // CHUNK
    credit = threading.Semaphore(window)
    errors = []

    def reader():
        for i in range(nchunks):
            try:
                code, text = client.reply()
            except (ConnectionError, OSError) as e:
                errors.append(f"chunk {i + 1}: {e}")
                credit.release()
                return
            if code != 250:
                errors.append(f"chunk {i + 1}/{nchunks}: {text!r}")
            credit.release()

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    # Rotate the block so each chunk starts after the header offset: chunk k holds stream
    # bytes [k*CHUNK, (k+1)*CHUNK) of HEADER + block*.
    h = len(HEADER)
    first = HEADER + content[: CHUNK - h]
    middle = content[CHUNK - h :] + content[: CHUNK - h]
    sent = 0
    for k in range(nchunks):
        size = min(CHUNK, stream_total - sent)
        data = (first if k == 0 else middle)[:size]
        last = " LAST" if k == nchunks - 1 else ""
        if last:
            # End on a line boundary: the last line is cut and filled out with 'x'.
            cut = data.rfind(b"\r\n", 0, size - 2) + 2
            data = data[:cut] + b"x" * (size - cut - 2) + b"\r\n"
        credit.acquire()
        if errors:
            break
        sock.sendall(f"BDAT {size}{last}\r\n".encode() + data)
        sent += size
    thread.join()
    if errors:
        raise RuntimeError("; ".join(errors[:3]))
    return sent


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gb", type=float, default=10.0, help="content size in GB (10^9 bytes)")
    p.add_argument("--only", choices=["data", "bdat"], help="send only one of the two")
    p.add_argument("--window", type=int, default=8, help="BDAT chunks in flight")
    p.add_argument("--flat-mib", type=float, default=64.0, help="bound on max RSS - RSS at start")
    args = p.parse_args()
    total = int(args.gb * 1e9)
    content, wire = make_block()
    bh = Blackhole("--max-message-size", str(total + 1_000_000))
    sampler = Sampler(bh.pid)
    sampler.start()
    problems, rows, sent_total, sent_count = [], [], 0, 0
    for kind in ("data", "bdat"):
        if args.only and args.only != kind:
            continue
        client = Client(bh.addr)
        try:
            client.reply()
            ehlo = client.command("EHLO load.test", 250)
            if kind == "bdat" and "CHUNKING" not in ehlo:
                raise RuntimeError(f"no CHUNKING in {ehlo!r}")
            client.command(f"MAIL FROM:<load@test.example> SIZE={total}", 250)
            client.command("RCPT TO:<sink@test.example>", 250)
            time.sleep(1.5)
            start_rss = proc_status(bh.pid)["VmRSS"]
            t0 = time.monotonic()
            if kind == "data":
                sent = send_data(client, total, content, wire)
            else:
                sent = send_bdat(client, total, content, args.window)
            t1 = time.monotonic()
            client.command("QUIT", 221)
        except (RuntimeError, ConnectionError, OSError) as e:
            problems.append(f"{kind}: {e}")
            continue
        finally:
            client.sock.close()
        sent_total += sent
        sent_count += 1
        rss = sampler.between(t0, t1) + [start_rss]
        growth = (max(rss) - start_rss) / 1024
        if growth >= args.flat_mib:
            problems.append(f"{kind}: RSS grew {growth:.1f} MiB (bound {args.flat_mib} MiB)")
        rows.append((kind, sent, t1 - t0, start_rss, min(rss), max(rss), growth, len(rss) - 1, loadavg()))
    sampler.stopped.set()
    code, final, err = bh.stop()
    if code != 0:
        problems.append(f"blackhole exit {code}: {err.strip()[-300:]}")
    if final:
        msgs, mb, bounced, _ = parse_final(final)
        if msgs != sent_count or bounced != 0:
            problems.append(f"blackhole counted {msgs} msg, {bounced} bounced; sent {sent_count}")
        if abs(mb - sent_total / 1e6) > 0.006:
            problems.append(f"blackhole counted {mb} MB, sent {sent_total / 1e6:.2f} MB of content")
    else:
        problems.append("no final: line from blackhole")
    print(f"# blackhole {' '.join(bh.argv[1:])}")
    print(f"# {final}")
    print("| path | content bytes | seconds | GB/s | RSS at start KiB | min RSS | max RSS | max − start MiB | samples | load |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for kind, sent, secs, start, lo, hi, growth, n, load in rows:
        print(
            f"| {kind} | {sent} | {secs:.1f} | {sent / secs / 1e9:.2f} | {start} | {lo} | {hi} | "
            f"{growth:.1f} | {n} | {load} |"
        )
    if problems:
        print("FAILED:")
        for prob in problems:
            print(f"  - {prob}")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
