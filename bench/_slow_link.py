"""A TCP relay that makes a local server look remote: every byte is delayed by a one-way
latency and paced to a bandwidth, in both directions. bench/ingest.py puts it in front of its
local Dovecot (`--latency-ms`, `--mbit`) to measure against an IMAP server across a network
without `tc` (loopback is shared with other processes; this slows only its own connections).

    python bench/_slow_link.py LISTEN_PORT TARGET_HOST TARGET_PORT LATENCY_MS MBIT

Runs in a process of its own (started by the bench) so the relay's work does not share the
bench's interpreter lock. Prints "ready" when it listens.
"""

from __future__ import annotations

import asyncio
import sys
import time


async def _pipe(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    latency: float,
    bytes_per_second: float,
) -> None:
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def receive() -> None:
        sent_until = 0.0  # when the link has finished sending what it took so far
        while data := await reader.read(65536):
            now = time.monotonic()
            sent_until = max(now, sent_until) + len(data) / bytes_per_second
            queue.put_nowait((sent_until + latency, data))
        queue.put_nowait((0.0, b""))

    async def deliver() -> None:
        while True:
            due, data = await queue.get()
            if not data:
                break
            if (wait := due - time.monotonic()) > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
        writer.close()

    await asyncio.gather(receive(), deliver(), return_exceptions=True)


async def _serve(port: int, host: str, target: int, latency: float, rate: float) -> None:
    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection(host, target)
        await asyncio.gather(
            _pipe(client_r, server_w, latency, rate),
            _pipe(server_r, client_w, latency, rate),
            return_exceptions=True,
        )

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    port, host, target, latency_ms, mbit = sys.argv[1:6]
    asyncio.run(
        _serve(int(port), host, int(target), float(latency_ms) / 1000, float(mbit) * 1e6 / 8)
    )


if __name__ == "__main__":
    main()
