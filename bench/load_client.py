"""The keep-alive HTTP/1.1 load client of bench_tracking, in a module of its own: each client
is a spawned process, which imports the module its target lives in. bench_tracking imports
the app (about 3 s of CPU); four clients importing it took the two cores from the server
under test while the first clients were already measuring."""

from __future__ import annotations

import os
import socket
import time

USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def drive(port: int, paths: list[str], seconds: float, start_at: float, out) -> None:
    """One client process: keep-alive GETs in a closed loop until the time is up."""
    while time.time() < start_at:
        time.sleep(0.001)
    deadline = time.perf_counter() + seconds
    sock, buf, ok, failed, latencies, i = connect(port), b"", 0, 0, [], os.getpid()
    while time.perf_counter() < deadline:
        request = (f"GET {paths[i % len(paths)]} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: {USER_AGENT}\r\n"
                   "Accept: image/*\r\n\r\n").encode()
        i += 1
        started = time.perf_counter()
        sock.sendall(request)
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            buf += chunk
        head, _, rest = buf.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(b":") for line in lines[1:])}
        length = int(headers.get(b"content-length", b"0"))
        while len(rest) < length:
            rest += sock.recv(65536)
        buf = rest[length:]
        latencies.append(time.perf_counter() - started)
        if status == 200:
            ok += 1
        else:
            failed += 1
        if headers.get(b"connection", b"").lower() == b"close":
            sock.close()
            sock, buf = connect(port), b""
    sock.close()
    out.put((ok, failed, latencies))
