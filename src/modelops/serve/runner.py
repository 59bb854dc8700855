"""uvicorn with a drain step before its graceful shutdown.

Stock uvicorn, on SIGTERM, closes idle keep-alive connections at once, even when the
client's next request is already sitting unread in the socket buffer; that request is
lost. Here the listener closes first, every response then says `connection: close`,
and shutdown proceeds once no request has completed for `quiet` seconds.
"""

import asyncio
import threading
from typing import Any

import uvicorn
from uvicorn.supervisors import multiprocess

DRAINING = threading.Event()  # read by the app's ASGI wrapper


class DrainingServer(uvicorn.Server):
    quiet = 0.3
    limit = 10.0

    async def shutdown(self, sockets: Any = None) -> None:
        for server in self.servers:
            server.close()
        DRAINING.set()
        loop = asyncio.get_running_loop()
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


def run(app: str, *, workers: int, **kwargs: Any) -> None:
    """`uvicorn.run(app, factory=True, ...)`, with DrainingServer in every worker."""
    config = uvicorn.Config(app, factory=True, workers=workers, **kwargs)
    if workers == 1:
        DrainingServer(config=config).run()
        return
    # uvicorn's supervisor builds each worker's Server itself, from this module-level name.
    multiprocess.Process = _DrainingProcess  # type: ignore[misc]
    multiprocess.Multiprocess(config, sockets=[config.bind_socket()]).run()
