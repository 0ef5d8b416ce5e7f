#!/usr/bin/env python3
"""A lean WebSocket load client for bench/run.py (standard library only).

    wsload.py echo PORT CONNECTIONS SECONDS   -> JSON {"round_trips": N, "rps": X, "p50_ms", "p99_ms"}
    wsload.py idle PORT CONNECTIONS HOLD_FILE -> opens CONNECTIONS idle sockets, prints "ready",
                                                 holds them until HOLD_FILE is removed

Frames are pre-built and replies parsed minimally, so one core of client
drives far more round trips than the servers under test can answer.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
import time

PAYLOAD = b"x" * 64
# A masked text frame with a zero mask (so the payload is sent as is).
FRAME = bytes([0x81, 0x80 | len(PAYLOAD)]) + b"\x00\x00\x00\x00" + PAYLOAD
REPLY_SIZE = 2 + len(PAYLOAD)


async def handshake(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16))
    writer.write(
        b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(head[:100])
    return reader, writer


async def echo(port: int, connections: int, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    deadline = time.monotonic() + seconds

    async def worker() -> None:
        reader, writer = await handshake(port)
        while time.monotonic() < deadline:
            started = time.perf_counter()
            writer.write(FRAME)
            await reader.readexactly(REPLY_SIZE)
            latencies.append(time.perf_counter() - started)
        writer.close()

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.monotonic() - started
    latencies.sort()
    count = len(latencies)
    return {
        "round_trips": count,
        "rps": count / elapsed,
        "p50_ms": 1000 * latencies[count // 2] if count else 0,
        "p99_ms": 1000 * latencies[int(count * 0.99)] if count else 0,
    }


async def idle(port: int, connections: int, hold_file: str) -> None:
    sockets = []
    for index in range(0, connections, 100):
        sockets += await asyncio.gather(
            *(handshake(port) for _ in range(min(100, connections - index)))
        )
    print("ready", flush=True)
    while os.path.exists(hold_file):
        await asyncio.sleep(0.1)
    for _, writer in sockets:
        writer.close()


def main() -> None:
    mode, port, connections = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    if mode == "echo":
        print(json.dumps(asyncio.run(echo(port, connections, float(sys.argv[4])))))
    else:
        asyncio.run(idle(port, connections, sys.argv[4]))


if __name__ == "__main__":
    main()
