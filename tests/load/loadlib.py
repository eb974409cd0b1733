"""Shared helpers for the load scripts: start blackhole, read a process's memory.

Stdlib only. Imported by idle-sessions.py and ten-gb.py (same directory).
"""

import os
import resource
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
"""The workspace root (tests/load/ is two levels below it)."""

BLACKHOLE = os.path.join(ROOT, "target", "release", "examples", "blackhole")
"""Where `cargo build --release -p smtp-proto-tokio --example blackhole` puts blackhole."""


def raise_nofile(want):
    """Raises RLIMIT_NOFILE (soft and, as root, hard) to at least `want`; returns the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= want:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(hard, want)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def proc_status(pid):
    """VmRSS, RssAnon, VmHWM (KiB), thread count and open fds of a process."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "VmHWM"):
                out[key] = int(value.split()[0])
            elif key == "Threads":
                out[key] = int(value)
    out["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    return out


def rss_kib(pid):
    """The process's VmRSS in KiB."""
    return proc_status(pid)["VmRSS"]


class Blackhole:
    """A blackhole process on a free loopback port; `stop()` returns its `final:` line."""

    def __init__(self, *flags, binary=BLACKHOLE):
        if not os.access(binary, os.X_OK):
            sys.exit(
                f"{binary} missing: cargo build --release -p smtp-proto-tokio --example blackhole"
            )
        self.argv = [binary, "--listen", "127.0.0.1:0", "--quiet", *flags]
        self.proc = subprocess.Popen(
            self.argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline()
        if not line.startswith("blackhole listening: smtp "):
            err = self.proc.stderr.read() if self.proc.poll() is not None else ""
            self.proc.kill()
            sys.exit(f"blackhole did not start: {line!r} {err!r}")
        host, _, port = line.split()[-1].rpartition(":")
        self.addr = (host, int(port))
        self.pid = self.proc.pid

    def alive(self):
        """True while the process runs."""
        return self.proc.poll() is None

    def stop(self, timeout=30):
        """SIGTERM, wait, and return (exit code, the `final:` line, stderr)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
        final = next((l for l in out.splitlines() if l.startswith("final:")), "")
        return self.proc.returncode, final, err


def parse_final(final):
    """(messages, MB, bounced, sessions) from `final: total N msg, X MB, B bounced, S sessions | ...`."""
    head = final.split("|")[0].replace("final:", "").replace("total", "").split(",")
    msgs = int(head[0].split()[0])
    mb = float(head[1].split()[0])
    bounced = int(head[2].split()[0])
    sessions = int(head[3].split()[0])
    return msgs, mb, bounced, sessions


def loadavg():
    """The 1-minute load average, as text."""
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def settle(pid, seconds=1.0):
    """Waits `seconds` and returns the process status."""
    time.sleep(seconds)
    return proc_status(pid)
