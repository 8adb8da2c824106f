"""The Django project of the n-VM devnet: settings from the environment, URLs, ASGI, Celery."""

from .celery import app as celery_app

__all__ = ("celery_app",)
