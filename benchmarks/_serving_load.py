"""A small HTTP/1.1 load generator for the serving benchmark (standard library only).

Every server is driven by the same code: ``concurrency`` kept-alive connections in one
asyncio loop, each sending its next request as soon as its answer is read, until ``total``
requests are answered or ``budget_s`` runs out. Requests are encoded before the clock
starts and answers are parsed only as far as HTTP needs (status line, Content-Length or
chunked body), so the generator's own cost per request stays around 30-60 us: on a 2-core
machine shared with the server, a heavier client (threads with httpx) would measure itself.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass

__all__ = ["Load", "drive"]


@dataclass(frozen=True)
class Load:
    """What one load run measured: requests answered 200, wall time, their latency
    percentiles, and the requests refused (any other status, e.g. a server shedding load)."""

    requests: int
    wall_s: float
    p50_ms: float
    p99_ms: float
    errors: int = 0

    @property
    def rate(self) -> float:
        """Successful requests per second (refused ones do not count)."""
        return self.requests / self.wall_s if self.wall_s else 0.0


def _request(host: str, port: int, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = -1
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        lowered = name.strip().lower()
        if lowered == b"content-length":
            length = int(value)
        elif lowered == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if not chunked:
        return status, await reader.readexactly(max(length, 0))
    body = bytearray()
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        body += await reader.readexactly(size + 2)
        if size == 0:
            return status, bytes(body)
        del body[-2:]


async def _drive(
    host: str,
    port: int,
    path: str,
    bodies: list[bytes],
    *,
    concurrency: int,
    total: int,
    budget_s: float,
    warmup: int,
    headers: dict[str, str],
) -> Load:
    requests = [_request(host, port, path, b, headers) for b in bodies]
    samples: list[float] = []
    errors: list[bytes] = []
    counter = iter(range(total))
    deadline = 0.0
    gate = asyncio.Event()
    ready: list[int] = []

    async def connection(index: int) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for n in range(warmup // concurrency + 1):  # untimed: connections, caches
                writer.write(requests[(index + n * concurrency) % len(requests)])
                status, body = await _answer(reader)
                if status != 200:
                    raise RuntimeError(f"POST {path}: {status} {body[:300]!r}")
            ready.append(index)
            await gate.wait()
            for n in counter:
                if time.perf_counter() > deadline:
                    return
                request = requests[n % len(requests)]
                start = time.perf_counter()
                writer.write(request)
                status, body = await _answer(reader)
                if status == 200:
                    samples.append(time.perf_counter() - start)
                else:
                    errors.append(body[:300])
        finally:
            writer.close()

    tasks = [asyncio.ensure_future(connection(i)) for i in range(concurrency)]
    # Every connection warms up first; then the gate opens for all at once.
    while len(ready) < concurrency:
        failed = [t for t in tasks if t.done()]
        if failed:
            await asyncio.gather(*failed)  # raises the warm-up's error
        await asyncio.sleep(0.01)
    begin = time.perf_counter()
    deadline = begin + budget_s
    gate.set()
    await asyncio.gather(*tasks)
    wall = time.perf_counter() - begin
    if not samples:
        why = f": {errors[0]!r}" if errors else ""
        raise RuntimeError(f"POST {path}: no request was answered in {budget_s:.0f} s{why}")
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return Load(len(ordered), wall, statistics.median(ordered) * 1000, p99 * 1000, len(errors))


def drive(
    port: int,
    path: str,
    bodies: list[bytes],
    *,
    concurrency: int,
    total: int,
    budget_s: float,
    warmup: int = 50,
    host: str = "127.0.0.1",
    headers: dict[str, str] | None = None,
) -> Load:
    """POST ``bodies`` (in turn) to ``path`` over ``concurrency`` connections; bounded by
    ``total`` requests and ``budget_s`` seconds. A non-200 answer in the warm-up raises;
    later ones are counted as refused."""
    return asyncio.run(
        _drive(
            host,
            port,
            path,
            bodies,
            concurrency=concurrency,
            total=total,
            budget_s=budget_s,
            warmup=warmup,
            headers=headers or {},
        )
    )
