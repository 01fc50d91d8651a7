"""The load generator keeps its concurrency bound and records every request."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp import web

from bench.load import (
    TRANSPORT_ERROR,
    WRONG_ANSWER,
    BenchClient,
    Load,
    Reply,
    Samples,
    burst,
    drive,
)

pytestmark = [pytest.mark.bench]


def _reply(status: int = 200, body: bytes = b"", **headers: str) -> Reply:
    return Reply(status, headers, body)


def test_drive_sends_exactly_the_requested_count_with_their_statuses():
    async def send(i: int) -> Reply:
        return _reply(201 if i == 3 else 200)

    samples = asyncio.run(drive(send, load=Load(concurrency=4, requests=10)))
    assert samples.count == 10
    assert sorted(samples.statuses) == [200] * 9 + [201]
    assert samples.unexpected({200}) == 1
    assert all(latency >= 0 for latency in samples.latencies)
    assert samples.throughput == pytest.approx(10 / samples.elapsed)
    assert samples.client_cpu >= 0


def test_drive_never_has_more_requests_in_flight_than_its_concurrency():
    in_flight = 0
    peak = 0

    async def send(i: int) -> Reply:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.005)
        in_flight -= 1
        return _reply()

    asyncio.run(drive(send, load=Load(concurrency=3, requests=30)))
    assert peak == 3


def test_drive_records_a_transport_error_as_status_zero():
    async def send(i: int) -> Reply:
        raise aiohttp.ClientConnectionError("refused")

    samples = asyncio.run(drive(send, load=Load(concurrency=2, requests=4)))
    assert samples.statuses == [TRANSPORT_ERROR] * 4


def test_drive_counts_a_reply_its_check_refuses_as_a_wrong_answer():
    async def send(i: int) -> Reply:
        return _reply(201, **{"Idempotent-Replayed": "true" if i % 2 else "false"})

    samples = asyncio.run(drive(send, load=Load(concurrency=2, requests=6),
                                check=lambda r: r.headers["Idempotent-Replayed"] == "true"))
    assert samples.statuses == [201] * 6
    assert samples.wrong == 3
    assert samples.unexpected({201}) == 3
    assert samples.status_counts() == {"201": 6, WRONG_ANSWER: 3}


def test_drive_with_a_stop_event_ends_when_it_is_set():
    async def send(i: int) -> Reply:
        await asyncio.sleep(0.002)
        return _reply()

    async def main():
        stop = asyncio.Event()
        task = asyncio.create_task(drive(send, load=Load(concurrency=2, duration=30), stop=stop))
        await asyncio.sleep(0.1)
        stop.set()
        return await task

    samples = asyncio.run(main())
    assert 0 < samples.count
    assert samples.elapsed < 5


def test_overlapping_keeps_only_requests_in_flight_during_the_window():
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
    in_flight = 0
    peak = 0

    async def send(i: int) -> Reply:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return _reply(201, str(i).encode())

    answers = asyncio.run(burst(send, 16))
    assert peak == 16
    assert [int(a.response.content) for a in answers] == list(range(16))
    assert all(a.status == 201 and a.latency > 0 for a in answers)


def test_the_bench_client_sends_its_credentials_and_reads_the_whole_reply():
    async def handler(request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else None
        return web.json_response(
            {"auth": request.headers.get("Authorization"), "cookie": request.headers.get("Cookie"),
             "key": request.headers.get("Idempotency-Key"), "body": body},
            status=201, headers={"Idempotent-Replayed": "false"})

    async def main():
        app = web.Application()
        app.router.add_post("/x", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        try:
            async with BenchClient(f"http://127.0.0.1:{port}",
                                   headers={"Authorization": "Bearer t"},
                                   cookies={"sessionid": "s", "csrftoken": "c"}, size=2) as client:
                return await client.post("/x", json={"a": 1}, headers={"Idempotency-Key": "k"})
        finally:
            await runner.cleanup()

    reply = asyncio.run(main())
    assert reply.status_code == 201
    assert reply.headers["idempotent-replayed"] == "false"  # case-insensitive
    assert reply.json() == {"auth": "Bearer t", "cookie": "sessionid=s; csrftoken=c",
                            "key": "k", "body": {"a": 1}}
