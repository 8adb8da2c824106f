"""ASGI entry point: HTTP through Django; websocket routes join here as the explorer grows."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nvmsite.settings")

application = get_asgi_application()
