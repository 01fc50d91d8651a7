"""The load generator: bounded concurrency over one shared aiohttp client session.

`drive()` keeps `concurrency` requests in flight until a request count, a
duration or a stop event is reached, and records each request's latency and
status. A transport error (refused, reset, timed out) is recorded as status 0,
so a dying server shows up in the numbers instead of aborting the run. A
reply with the right status but the wrong content (`check` says so, e.g. a
replay without `Idempotent-Replayed: true`) is counted as a wrong answer.

The client is aiohttp's (`BenchClient`): it runs on the same 2 cores as the
server, and measured here it costs about 0.8 ms of CPU a request against
2.1 ms for httpx (gunicorn's sync workers close every connection, so each
request opens one). Client CPU is taken from the server's share; the less of
it, the less it flattens every ratio (docs/bench.md, "Method").
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bench.stats import percentile

TRANSPORT_ERROR = 0
# What counts as "the server did not answer": a transport error becomes status 0.
TRANSPORT_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError)
WRONG_ANSWER = "wrong_answer"  # status_counts() key of replies a check refused
CLIENT_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class Reply:
    """A fully read HTTP response: status, headers (case-insensitive), body."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode(errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


class BenchClient:
    """An aiohttp session on one site with fixed headers (credentials) and a pool of `size`.

    The pool holds as many connections as the load keeps in flight, so it
    never queues a request the load meant to send.
    """

    def __init__(self, base_url: str, *, headers: Mapping[str, str] | None = None,
                 cookies: Mapping[str, str] | None = None, size: int = 8,
                 timeout: float = CLIENT_TIMEOUT_SECONDS):
        self.base_url = base_url
        self.headers = dict(headers or {})
        if cookies:
            # Sent as a header: aiohttp's cookie jar refuses cookies for IP hosts.
            self.headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        self.size = size
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> BenchClient:
        self._session = aiohttp.ClientSession(
            self.base_url, headers=self.headers,
            # gunicorn's sync workers close every connection: so does the client.
            connector=aiohttp.TCPConnector(limit=self.size, force_close=True),
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=aiohttp.ClientTimeout(total=self.timeout),
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(self, method: str, path: str, *, json: Any = None,
                      headers: Mapping[str, str] | None = None) -> Reply:
        if self._session is None:
            raise RuntimeError("use `async with BenchClient(...)`")
        async with self._session.request(method, path, json=json, headers=headers) as response:
            body = await response.read()
            return Reply(response.status, response.headers, body)

    async def get(self, path: str, **kwargs: Any) -> Reply:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> Reply:
        return await self.request("POST", path, **kwargs)


Send = Callable[[int], Awaitable[Reply]]
Check = Callable[[Reply], bool]


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
    wrong: int = 0              # replies with an expected status that `check` refused
    client_cpu: float = 0.0     # CPU seconds the load generator's process used meanwhile

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
        counts = {str(code): n for code, n in sorted(Counter(self.statuses).items())}
        if self.wrong:
            counts[WRONG_ANSWER] = self.wrong
        return counts

    def unexpected(self, expect: Collection[int]) -> int:
        """Return how many requests answered a status outside `expect`, or a wrong answer."""
        return sum(1 for status in self.statuses if status not in expect) + self.wrong

    def overlapping(self, start: float, end: float) -> Samples:
        """Return the requests that were in flight at some time in [start, end] (monotonic)."""
        chosen = Samples(elapsed=end - start)
        for began, latency, status in zip(self.starts, self.latencies, self.statuses):
            if began <= end and began + latency >= start:
                chosen.starts.append(began)
                chosen.latencies.append(latency)
                chosen.statuses.append(status)
        return chosen


async def drive(send: Send, *, load: Load, stop: asyncio.Event | None = None,
                check: Check | None = None) -> Samples:
    """Call `send(i)` for i = 0, 1, ... with `load.concurrency` calls in flight.

    Each call's latency is measured around the awaited reply, which `send`
    reads fully. `check(reply)` (optional) refuses a reply whose content is
    wrong; it runs outside the timed part.
    """
    samples = Samples()
    next_index = 0
    started = time.perf_counter()
    cpu_started = time.process_time()
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
            reply = None
            try:
                reply = await send(index)
                status = reply.status_code
            except TRANSPORT_ERRORS:
                status = TRANSPORT_ERROR
            samples.latencies.append(time.perf_counter() - t0)
            samples.statuses.append(status)
            samples.starts.append(began)
            if check is not None and reply is not None and not check(reply):
                samples.wrong += 1

    await asyncio.gather(*(worker() for _ in range(load.concurrency)))
    samples.elapsed = time.perf_counter() - started
    samples.client_cpu = time.process_time() - cpu_started
    return samples


@dataclass(frozen=True)
class Answer:
    """One request of a burst: its reply (None on a transport error) and latency."""

    response: Reply | None
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
        except TRANSPORT_ERRORS:
            response = None
        return Answer(response, time.perf_counter() - t0)

    return list(await asyncio.gather(*(one(i) for i in range(n))))
