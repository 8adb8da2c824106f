"""ASGI entry point (served by daphne): HTTP through Django's WSGI handler; `/ws/live`, `/rpc/solana/ws` and the
websocket of `/rpc/eth` through Channels.

HTTP runs Django's WSGI handler on a fixed pool of reused threads, one hop there and one back per
request: Django's ASGI handler starts a thread for every request (its per-request thread-sensitive
context), and asgiref's WSGI adapter hops back to the event loop for every part of the answer — between
them most of a simple RPC read's time. Every view here is synchronous, so nothing is lost; responses
are small and sent whole.
"""

import asyncio
import gc
import io
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nvmsite.settings")
wsgi = get_wsgi_application()  # sets Django up before the consumers are imported

from asgiref.wsgi import WsgiToAsgiInstance  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.contrib.staticfiles.handlers import StaticFilesHandler  # noqa: E402
from django.urls import path  # noqa: E402

from explorer.consumers import LiveConsumer  # noqa: E402
from rpc.eth.consumers import EthPubSub  # noqa: E402
from rpc.solana.consumers import SolanaPubSub  # noqa: E402

HTTP_THREADS = int(os.environ.get("WEB_THREADS", "4"))  # per process; each keeps its database connection


class WsgiOnThreads:
    def __init__(self, app: Any, threads: int) -> None:
        self.app = app
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="http")

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"HTTP only here, not {scope['type']}")
        parts = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            parts.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        loop = asyncio.get_running_loop()
        status, headers, body = await loop.run_in_executor(self.pool, self.run, scope, b"".join(parts))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def run(self, scope: dict[str, Any], body: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        adapter = WsgiToAsgiInstance(self.app)
        adapter.scope = scope
        environ = adapter.build_environ(scope, io.BytesIO(body))
        started: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            started["status"] = int(status.split(" ", 1)[0])
            started["headers"] = [(k.lower().encode("latin1"), v.encode("latin1")) for k, v in headers]

        result = self.app(environ, start_response)
        try:
            out = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()  # Django's request_finished: the thread's database connection is tidied here
        return started["status"], started["headers"], out


# Everything loaded so far (Django, the engines, py-evm's tables) lives as long as the process: keep it
# out of the garbage collector's full passes, which otherwise stall every request now and then.
gc.freeze()

# The explorer's CSS and script are served by the node itself (a devnet has no front proxy).
application = ProtocolTypeRouter(
    {
        "http": WsgiOnThreads(StaticFilesHandler(wsgi), HTTP_THREADS),
        "websocket": URLRouter(
            [
                path("ws/live", LiveConsumer.as_asgi()),
                path("rpc/solana/ws", SolanaPubSub.as_asgi()),
                path("rpc/eth", EthPubSub.as_asgi()),  # the same URL as the HTTP JSON-RPC, as geth and anvil serve it
            ]
        ),
    }
)
