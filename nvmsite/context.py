"""Template context every page gets."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def devnet(request: HttpRequest) -> dict[str, Any]:
    """Whether the node runs in devnet mode (the Devnet panel's link shows then)."""
    return {"devnet_mode": settings.NVM_DEVNET}
