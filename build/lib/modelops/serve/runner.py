"""uvicorn with the wire hardened: header/body timeouts and a drain step on SIGTERM.

Timeouts. Stock uvicorn holds a connection open for as long as a client trickles an
unfinished header block or body (its keep-alive timer only covers idle connections).
`GuardedHttpTools` gives the header block `header_timeout` seconds from the first byte
(or from accept) and the body `body_timeout` seconds from the end of the headers; on
expiry the client gets a 408 and the connection is closed.

Shutdown. On SIGTERM the server (1) keeps serving for `drain_seconds` while /readyz
answers 503, so requests routed during endpoint removal still land; (2) closes the
listener, answers what is in flight with `connection: close`, and proceeds once no
request has completed for `quiet` seconds (stock uvicorn would close idle keep-alive
connections at once, losing a request already sitting unread in the socket buffer).
"""

import asyncio
import threading
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.supervisors import multiprocess

STOPPING = threading.Event()  # SIGTERM received: /readyz says not ready, requests still served
DRAINING = threading.Event()  # listener closed: responses say `connection: close`
TIMED_OUT = "modelops.timed_out"  # scope key the protocol sets when it answered 408 itself


class GuardedHttpTools(HttpToolsProtocol):
    """httptools protocol with a header-block and a request-body deadline."""

    header_timeout = 10.0
    body_timeout = 30.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._guard: asyncio.TimerHandle | None = None

    def _arm(self, seconds: float, phase: str) -> None:
        self._disarm()
        self._guard = self.loop.call_later(seconds, self._expire, phase)

    def _disarm(self) -> None:
        if self._guard is not None:
            self._guard.cancel()
            self._guard = None

    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.header_timeout, "header")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._guard is None:
            self._arm(self.header_timeout, "header")

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()
        if self.cycle is not None and not self.cycle.response_complete:
            self._arm(self.body_timeout, "body")

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _expire(self, phase: str) -> None:
        self._guard = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if phase == "body" and cycle is not None:
            cycle.scope[TIMED_OUT] = True  # type: ignore[literal-required]
        if cycle is None or phase == "header" or not cycle.response_started:
            body = b'{"detail":"request %s not received within %gs"}' % (
                phase.encode(),
                self.header_timeout if phase == "header" else self.body_timeout,
            )
            self.transport.write(
                b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
                b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)
            )
        self.transport.close()


class DrainingServer(uvicorn.Server):
    quiet = 0.3
    limit = 10.0
    drain_seconds = 0.0

    async def shutdown(self, sockets: Any = None) -> None:
        STOPPING.set()
        loop = asyncio.get_running_loop()
        # Phase 1: still accepting; the readiness probe and endpoint removal catch up.
        end = loop.time() + self.drain_seconds
        while loop.time() < end and not self.force_exit:
            await asyncio.sleep(0.05)
        # Phase 2: no new connections; finish what is in flight.
        for server in self.servers:
            server.close()
        DRAINING.set()
        deadline = loop.time() + self.limit
        last, last_change = self.server_state.total_requests, loop.time()
        while self.server_state.connections and loop.time() < deadline and not self.force_exit:
            await asyncio.sleep(0.05)
            if self.server_state.total_requests != last:
                last, last_change = self.server_state.total_requests, loop.time()
            elif loop.time() - last_change >= self.quiet:
                break
        await super().shutdown(sockets)


class _DrainingProcess(multiprocess.Process):
    """uvicorn's worker process, building a DrainingServer instead of its own Server."""

    @property
    def server(self) -> uvicorn.Server:
        if self._server is None:
            self._server = DrainingServer(config=self.config)
        return self._server


def run(app: str, *, workers: int, drain_seconds: float = 0.0, **kwargs: Any) -> None:
    """`uvicorn.run(app, factory=True, ...)` on uvloop + the guarded httptools protocol."""
    DrainingServer.drain_seconds = drain_seconds
    config = uvicorn.Config(
        app, factory=True, workers=workers, loop="uvloop", http=GuardedHttpTools, **kwargs
    )
    if workers == 1:
        DrainingServer(config=config).run()
        return
    # uvicorn's supervisor builds each worker's Server itself, from this module-level name.
    multiprocess.Process = _DrainingProcess  # type: ignore[misc]
    multiprocess.Multiprocess(config, sockets=[config.bind_socket()]).run()
