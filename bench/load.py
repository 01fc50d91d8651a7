"""The load generator: bounded concurrency over one shared `httpx.AsyncClient`.

`drive()` keeps `concurrency` requests in flight until a request count, a
duration or a stop event is reached, and records each request's latency and
status. A transport error (refused, reset, timed out) is recorded as status 0,
so a dying server shows up in the numbers instead of aborting the run.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field

import httpx

from bench.stats import percentile

TRANSPORT_ERROR = 0

Send = Callable[[int], Awaitable[httpx.Response]]


@dataclass(frozen=True)
class Load:
    """How much load one run of a scenario applies.

    Exactly one of `requests` and `duration` bounds the run; `stop` may end
    it early (used to apply load only while something else runs).
    """

    concurrency: int
    requests: int | None = None
    duration: float | None = None

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        if (self.requests is None) == (self.duration is None):
            raise ValueError("give exactly one of requests and duration")


@dataclass
class Samples:
    """Per-request latencies (seconds) and statuses of one run, and its wall time."""

    latencies: list[float] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    # time.monotonic() at each request's start: CLOCK_MONOTONIC, which on
    # Linux is one clock for every process, so a subprocess's times compare.
    starts: list[float] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def throughput(self) -> float:
        """Completed requests per second of wall time."""
        return self.count / self.elapsed if self.elapsed > 0 else 0.0

    def latency_ms(self, q: float) -> float:
        return percentile(self.latencies, q) * 1000.0

    def status_counts(self) -> dict[str, int]:
        return {str(code): n for code, n in sorted(Counter(self.statuses).items())}

    def unexpected(self, expect: Collection[int]) -> int:
        """Return how many requests answered a status outside `expect`."""
        return sum(1 for status in self.statuses if status not in expect)

    def overlapping(self, start: float, end: float) -> Samples:
        """Return the requests that were in flight at some time in [start, end] (monotonic)."""
        chosen = Samples(elapsed=end - start)
        for began, latency, status in zip(self.starts, self.latencies, self.statuses):
            if began <= end and began + latency >= start:
                chosen.starts.append(began)
                chosen.latencies.append(latency)
                chosen.statuses.append(status)
        return chosen


async def drive(send: Send, *, load: Load, stop: asyncio.Event | None = None) -> Samples:
    """Call `send(i)` for i = 0, 1, ... with `load.concurrency` calls in flight.

    Each call's latency is measured around the awaited response, which
    `send` must read fully (httpx does, for non-streamed requests).
    """
    samples = Samples()
    next_index = 0
    started = time.perf_counter()
    deadline = started + load.duration if load.duration is not None else None

    def claim() -> int | None:
        nonlocal next_index
        if stop is not None and stop.is_set():
            return None
        if load.requests is not None and next_index >= load.requests:
            return None
        if deadline is not None and time.perf_counter() >= deadline:
            return None
        index = next_index
        next_index += 1
        return index

    async def worker() -> None:
        while (index := claim()) is not None:
            began = time.monotonic()
            t0 = time.perf_counter()
            try:
                response = await send(index)
                status = response.status_code
            except httpx.TransportError:
                status = TRANSPORT_ERROR
            samples.latencies.append(time.perf_counter() - t0)
            samples.statuses.append(status)
            samples.starts.append(began)

    await asyncio.gather(*(worker() for _ in range(load.concurrency)))
    samples.elapsed = time.perf_counter() - started
    return samples


@dataclass(frozen=True)
class Answer:
    """One request of a burst: its response (None on a transport error) and latency."""

    response: httpx.Response | None
    latency: float

    @property
    def status(self) -> int:
        return self.response.status_code if self.response is not None else TRANSPORT_ERROR


async def burst(send: Send, n: int) -> list[Answer]:
    """Send `n` requests at once (no bound) and return every answer, in index order.

    For the "N concurrent requests" measures: all N are in flight together,
    as far as the client's connection pool allows (give it N connections).
    """
    async def one(index: int) -> Answer:
        t0 = time.perf_counter()
        try:
            response = await send(index)
        except httpx.TransportError:
            response = None
        return Answer(response, time.perf_counter() - t0)

    return list(await asyncio.gather(*(one(i) for i in range(n))))
