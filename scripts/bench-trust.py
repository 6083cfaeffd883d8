#!/usr/bin/env python3
"""The trust boundary's memory figures (BENCHMARKS.md): a release `pnode-api serve` on loopback
(SQLite in a temp dir, no seeds) under

1. N connections each sending K bytes of a request head that never ends (N, K = 3,000 x 100 KiB,
   12,000 x 120 KiB, 3,000 x 15 KiB): the server's RSS after they are sent, and how long
   `/api/health` takes on a new connection meanwhile;
2. 100,000 and 150,000 requests, each from another client address (X-Forwarded-For through a
   trusted proxy): the server's RSS before and after, at 1200/min (idle clients swept) and 2/h
   (every client remembered, up to the bound of 100,000).

Usage: scripts/bench-trust.py target/release/pnode-api
Prints one line per case. Nothing leaves 127.0.0.0/8.
"""
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request


def start(binary, env):
    tmp = tempfile.mkdtemp()
    port = free_port()
    child = subprocess.Popen(
        [binary, "serve"],
        env={
            "PATH": os.environ.get("PATH", ""),
            "DATABASE_URL": f"sqlite://{tmp}/b.db?mode=rwc",
            "PNODE_BIND": f"127.0.0.1:{port}",
            "RUST_LOG": "warn",
            **env,
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(base + "/api/health", timeout=1).read()
            return child, base, port
        except OSError:
            time.sleep(0.05)
    raise SystemExit("the server did not start")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def health_ms(base):
    started = time.monotonic()
    urllib.request.urlopen(base + "/api/health", timeout=10).read()
    return (time.monotonic() - started) * 1000


async def half_sent(port, count, size):
    """Opens `count` connections, each sending `size` bytes of a head that never ends; returns
    them open (those the server closed included) and how many were answered at once."""
    head = b"GET /api/health HTTP/1.1\r\nX-Pad: " + b"a" * size
    writers = []
    answered = 0
    for _ in range(count):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(head[:size])
        writers.append((reader, writer))
    for reader, writer in writers:
        try:
            await asyncio.wait_for(writer.drain(), 0.05)
        except (asyncio.TimeoutError, ConnectionError):
            pass
    for reader, _ in writers:
        try:
            first = await asyncio.wait_for(reader.read(12), 0.01)
            answered += first.startswith(b"HTTP/1.1")
        except (asyncio.TimeoutError, ConnectionError):
            pass
    return writers, answered


async def heads_case(binary, count, size):
    child, base, port = start(
        binary,
        {"PNODE_HTTP_REQUEST_TIMEOUT": "120s", "PNODE_HTTP_MAX_CONNECTIONS": "10000"},
    )
    try:
        before = rss_mib(child.pid)
        writers, answered = await half_sent(port, count, size)
        await asyncio.sleep(1)
        during = rss_mib(child.pid)
        took = await asyncio.get_running_loop().run_in_executor(None, health_ms, base)
        print(
            f"{count} connections x {size // 1024} KiB of head: RSS {before:.1f} -> {during:.1f} "
            f"MiB; {answered} answered at once (431, or 503 past the cap); /api/health on a new "
            f"connection {took:.1f} ms"
        )
        for _, writer in writers:
            writer.close()
    finally:
        child.kill()
        child.wait()


def limiter_case(binary, clients, rate):
    """`rate` 1200/min: a client's bucket is full again 50 ms after its request, and swept; 2/h:
    every client stays remembered for half an hour (the worst case: the bound holds it)."""
    child, base, port = start(
        binary,
        {"PNODE_RATE_LIMIT": rate, "PNODE_TRUSTED_PROXIES": "127.0.0.1/32"},
    )
    try:
        before = rss_mib(child.pid)
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", port)) as s:
            reader = s.makefile("rb")
            for n in range(clients):
                ip = f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"
                s.sendall(
                    f"GET /api/system/memory HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: {ip}\r\n"
                    "\r\n".encode()
                )
                read_response(reader)
        after = rss_mib(child.pid)
        took = time.monotonic() - started
        print(
            f"{clients} client addresses at {rate}, one counted request each: RSS {before:.1f} -> "
            f"{after:.1f} MiB; {took:.1f} s"
        )
    finally:
        child.kill()
        child.wait()


def read_response(reader):
    length = 0
    while True:
        line = reader.readline()
        if line in (b"\r\n", b""):
            break
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    reader.read(length)


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "target/release/pnode-api"
    for count, size in [(3000, 100 * 1024), (12000, 120 * 1024), (3000, 15 * 1024)]:
        asyncio.run(heads_case(binary, count, size))
    limiter_case(binary, 100_000, "1200/min")
    limiter_case(binary, 150_000, "2/h")


if __name__ == "__main__":
    main()
