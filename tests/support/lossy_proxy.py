"""A proxy that loses answers: the server did the work, the client never hears of it.

`LossyProxy(upstream_port, loss=0.3, seed=N).start()` listens on 127.0.0.1
(a free port; `.url`) in a thread of its own running an asyncio loop. Each
connection is one request (the site's sync gunicorn workers close every
connection after the answer): the proxy reads the request, forwards it to the
upstream, reads the whole answer, then, for a `loss` share of the requests
drawn from a seeded RNG, closes the client's connection without a byte of
it. The upstream has answered, so it has committed whatever it did. The
counts (`forwarded`, `dropped`) say what happened. Bounded: at most
`max_connections` at once, timeouts on every read, heads and bodies capped.
"""

from __future__ import annotations

import asyncio
import random
import threading
from dataclasses import dataclass

MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 4 * 1024 * 1024
IO_TIMEOUT_SECONDS = 60


@dataclass
class Counts:
    forwarded: int = 0  # requests the upstream answered
    dropped: int = 0  # of those, answers the client never got
    failed: int = 0  # requests the proxy could not forward (bad request, upstream down)


class LossyProxy:
    def __init__(self, upstream_port: int, *, loss: float = 0.3, seed: int = 0,
                 max_connections: int = 64):
        self.upstream_port = upstream_port
        self.loss = loss
        self.rng = random.Random(seed)
        self.counts = Counts()
        self.port = 0
        self._max_connections = max_connections
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LossyProxy:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        async def serve() -> None:
            self._slots = asyncio.Semaphore(self._max_connections)
            self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(serve())
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="lossy-proxy", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the lossy proxy did not start")
        return self

    def stop(self) -> None:
        if self._loop is None:
            return

        async def close() -> None:
            self._server.close()
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
        self._loop = None

    def _lose_this_one(self) -> bool:
        with self._lock:
            return self.rng.random() < self.loss

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async with self._slots:
            try:
                request = await asyncio.wait_for(_read_request(reader), IO_TIMEOUT_SECONDS)
                if request is None:
                    return
                answer = await asyncio.wait_for(self._forward(request), IO_TIMEOUT_SECONDS)
                self.counts.forwarded += 1
                if self._lose_this_one():
                    self.counts.dropped += 1
                    return  # the upstream answered (and committed); the client hears nothing
                writer.write(answer)
                await writer.drain()
            except (OSError, asyncio.TimeoutError, ValueError, asyncio.IncompleteReadError):
                self.counts.failed += 1
            finally:
                writer.close()

    async def _forward(self, request: bytes) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        try:
            writer.write(request)
            await writer.drain()
            return await _read_response(reader)
        finally:
            writer.close()


async def _read_request(reader: asyncio.StreamReader) -> bytes | None:
    """Return one request with `Connection: close`, or None if the client sent nothing."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as error:
        if not error.partial:
            return None
        raise
    except asyncio.LimitOverrunError as error:
        raise ValueError("request head too large") from error
    if len(head) > MAX_HEAD_BYTES:
        raise ValueError("request head too large")
    lines = head[:-4].split(b"\r\n")
    length = 0
    kept = [lines[0]]
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
        if name.strip().lower() in (b"connection", b"keep-alive"):
            continue
        kept.append(line)
    if length > MAX_BODY_BYTES:
        raise ValueError("request body too large")
    body = await reader.readexactly(length)
    kept.append(b"Connection: close")
    return b"\r\n".join(kept) + b"\r\n\r\n" + body


async def _read_response(reader: asyncio.StreamReader) -> bytes:
    """Return the upstream's whole answer: it closes the connection after it."""
    answer = b""
    while chunk := await reader.read(65536):
        answer += chunk
        if len(answer) > MAX_HEAD_BYTES + MAX_BODY_BYTES:
            raise ValueError("answer too large")
    if not answer.startswith(b"HTTP/"):
        raise ValueError("no answer from upstream")
    return answer
