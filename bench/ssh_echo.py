#!/usr/bin/env python3
"""Interactive echo round-trip latency over `ssh -tt`, for bench/ssh.sh.

Usage: ssh_echo.py N WARMUP -- ssh [ssh args...] HOST

Runs `stty raw -echo; printf READY; exec dd bs=1 count=K` on a remote PTY (ssh -tt forces one
even though our stdin is a pipe), waits for READY, then sends one byte at a time and times how
long it takes to come back (WARMUP untimed round trips first). dd exits after the last byte, so
the session ends normally. Prints one JSON object: n, p50_ms, p99_ms, mean_ms, min_ms, max_ms.
Standard library only.
"""
import json
import os
import select
import statistics
import subprocess
import sys
import time


def read_until(fd, want, deadline):
    """Reads from fd until the accumulated data ends with `want` (bytes)."""
    buf = b""
    while not buf.endswith(want):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"timed out waiting for {want!r}; got {buf[-200:]!r}")
        r, _, _ = select.select([fd], [], [], left)
        if not r:
            continue
        chunk = os.read(fd, 4096)
        if not chunk:
            raise EOFError(f"ssh closed its output; got {buf[-200:]!r}")
        buf += chunk
    return buf


def main():
    args = sys.argv[1:]
    sep = args.index("--")
    n, warmup = int(args[0]), int(args[1])
    ssh = args[sep + 1:]
    total = n + warmup
    remote = f"stty raw -echo; printf READY; exec dd bs=1 count={total} 2>/dev/null"
    p = subprocess.Popen(ssh + [remote], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, bufsize=0)
    out, inp = p.stdout.fileno(), p.stdin.fileno()
    try:
        read_until(out, b"READY", time.monotonic() + 60)
        samples = []
        for i in range(total):
            b = bytes([ord("a") + i % 26])
            t0 = time.perf_counter()
            os.write(inp, b)
            read_until(out, b, time.monotonic() + 30)
            t1 = time.perf_counter()
            if i >= warmup:
                samples.append((t1 - t0) * 1000)
        p.stdin.close()
        rc = p.wait(timeout=30)
    except Exception as e:  # report and fail; the caller prints stderr
        p.kill()
        err = p.stderr.read().decode(errors="replace") if p.stderr else ""
        print(f"echo driver failed: {e}\nssh stderr: {err}", file=sys.stderr)
        sys.exit(1)
    if rc != 0:
        print(f"ssh exited {rc}: {p.stderr.read().decode(errors='replace')}", file=sys.stderr)
        sys.exit(1)
    samples.sort()
    pct = lambda q: samples[min(len(samples) - 1, int(round(q / 100 * (len(samples) - 1))))]
    print(json.dumps(dict(n=len(samples), p50_ms=round(pct(50), 3), p99_ms=round(pct(99), 3),
                          mean_ms=round(statistics.fmean(samples), 3),
                          min_ms=round(samples[0], 3), max_ms=round(samples[-1], 3))))


if __name__ == "__main__":
    main()
