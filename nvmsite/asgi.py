"""ASGI entry point (served by daphne): HTTP through Django's WSGI handler, `/ws/live` through Channels.

HTTP goes through the WSGI handler on a shared pool of threads rather than Django's ASGI handler, which
starts a thread for every request (its per-request thread-sensitive context) — a third of a simple
RPC read's time. Every view here is synchronous, so nothing is lost.
"""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nvmsite.settings")
wsgi = get_wsgi_application()  # sets Django up before the consumers are imported

from asgiref.sync import sync_to_async  # noqa: E402
from asgiref.wsgi import WsgiToAsgi, WsgiToAsgiInstance  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.contrib.staticfiles.handlers import StaticFilesHandler  # noqa: E402
from django.urls import path  # noqa: E402

from explorer.consumers import LiveConsumer  # noqa: E402


class _PooledInstance(WsgiToAsgiInstance):
    # the event loop's thread pool: requests run side by side, threads are reused
    run_wsgi_app = sync_to_async(WsgiToAsgiInstance.__dict__["run_wsgi_app"].func, thread_sensitive=False)


class PooledWsgiToAsgi(WsgiToAsgi):
    async def __call__(self, scope, receive, send):  # type: ignore[no-untyped-def]
        await _PooledInstance(self.wsgi_application)(scope, receive, send)


# Everything loaded so far (Django, the engines, py-evm's tables) lives as long as the process: keep it
# out of the garbage collector's full passes, which otherwise stall every request now and then.
gc.freeze()

# The explorer's CSS and script are served by the node itself (a devnet has no front proxy).
application = ProtocolTypeRouter(
    {
        "http": PooledWsgiToAsgi(StaticFilesHandler(wsgi)),
        "websocket": URLRouter([path("ws/live", LiveConsumer.as_asgi())]),
    }
)
