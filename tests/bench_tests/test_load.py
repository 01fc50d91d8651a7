"""The load generator keeps its concurrency bound and records every request."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from bench.load import TRANSPORT_ERROR, Load, drive

pytestmark = [pytest.mark.bench]


def _client(handler) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url="http://bench")


def test_drive_sends_exactly_the_requested_count_with_their_statuses():
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(201 if request.url.params["i"] == "3" else 200)

    async def main():
        async with _client(handler) as client:
            return await drive(lambda i: client.get("/", params={"i": i}),
                               load=Load(concurrency=4, requests=10))

    samples = asyncio.run(main())
    assert samples.count == 10
    assert sorted(samples.statuses) == [200] * 9 + [201]
    assert samples.unexpected({200}) == 1
    assert all(latency >= 0 for latency in samples.latencies)
    assert samples.throughput == pytest.approx(10 / samples.elapsed)


def test_drive_never_has_more_requests_in_flight_than_its_concurrency():
    in_flight = 0
    peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.005)
        in_flight -= 1
        return httpx.Response(200)

    async def main():
        async with _client(handler) as client:
            await drive(lambda i: client.get("/"), load=Load(concurrency=3, requests=30))

    asyncio.run(main())
    assert peak == 3


def test_drive_records_a_transport_error_as_status_zero():
    async def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async def main():
        async with _client(handler) as client:
            return await drive(lambda i: client.get("/"), load=Load(concurrency=2, requests=4))

    samples = asyncio.run(main())
    assert samples.statuses == [TRANSPORT_ERROR] * 4


def test_drive_with_a_stop_event_ends_when_it_is_set():
    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.002)
        return httpx.Response(200)

    async def main():
        stop = asyncio.Event()
        async with _client(handler) as client:
            task = asyncio.create_task(drive(lambda i: client.get("/"),
                                             load=Load(concurrency=2, duration=30), stop=stop))
            await asyncio.sleep(0.1)
            stop.set()
            return await task

    samples = asyncio.run(main())
    assert 0 < samples.count
    assert samples.elapsed < 5


def test_overlapping_keeps_only_requests_in_flight_during_the_window():
    from bench.load import Samples

    samples = Samples(latencies=[1.0, 1.0, 1.0], statuses=[200, 201, 202],
                      starts=[0.0, 5.0, 10.0], elapsed=11.0)
    chosen = samples.overlapping(0.5, 5.5)
    assert chosen.statuses == [200, 201]


def test_load_needs_exactly_one_bound():
    with pytest.raises(ValueError):
        Load(concurrency=1)
    with pytest.raises(ValueError):
        Load(concurrency=1, requests=1, duration=1.0)


def test_burst_has_all_requests_in_flight_at_once_and_keeps_their_order():
    from bench.load import burst

    in_flight = 0
    peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return httpx.Response(201, json={"i": int(request.url.params["i"])})

    async def main():
        async with _client(handler) as client:
            return await burst(lambda i: client.post("/", params={"i": i}), 16)

    answers = asyncio.run(main())
    assert peak == 16
    assert [a.response.json()["i"] for a in answers] == list(range(16))
    assert all(a.status == 201 and a.latency > 0 for a in answers)
