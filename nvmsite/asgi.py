"""ASGI entry point: HTTP through Django, `/ws/live` through Channels (served by daphne)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nvmsite.settings")
http = get_asgi_application()  # sets Django up before the consumers are imported

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402
from django.urls import path  # noqa: E402

from explorer.consumers import LiveConsumer  # noqa: E402

# The explorer's CSS and script are served by the node itself (a devnet has no front proxy).
application = ProtocolTypeRouter(
    {"http": ASGIStaticFilesHandler(http), "websocket": URLRouter([path("ws/live", LiveConsumer.as_asgi())])}
)
