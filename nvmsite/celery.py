"""Celery application; the broker comes from CELERY_BROKER_URL (in-process execution when unset)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nvmsite.settings")

app = Celery("nvmsite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["nvmsite"])
