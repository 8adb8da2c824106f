"""Settings switch to the real services from the environment (make test sets DATABASE_URL and REDIS_URL)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.cache import cache

ROOT = Path(__file__).resolve().parents[1]


def settings_under(env: dict[str, str], expr: str) -> str:
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")}
    code = (
        "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'nvmsite.settings'); django.setup(); "
        f"from django.conf import settings as s; print({expr})"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_embedded_default_is_sqlite_and_in_memory(tmp_path):
    assert settings_under({"NVM_HOME": str(tmp_path)}, "s.DATABASES['default']['ENGINE']") == "django.db.backends.sqlite3"
    assert "InMemoryChannelLayer" in settings_under({"NVM_HOME": str(tmp_path)}, "s.CHANNEL_LAYERS['default']['BACKEND']")


def test_environment_selects_postgresql_redis_and_celery(tmp_path):
    env = {
        "NVM_HOME": str(tmp_path),
        "DATABASE_URL": "postgres://root@127.0.0.1:5432/test",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/1",
    }
    assert settings_under(env, "s.DATABASES['default']['ENGINE']") == "django.db.backends.postgresql"
    assert "RedisChannelLayer" in settings_under(env, "s.CHANNEL_LAYERS['default']['BACKEND']")
    assert settings_under(env, "s.CELERY_BROKER_URL, s.CELERY_TASK_ALWAYS_EAGER") == "redis://127.0.0.1:6379/1 False"


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="make test sets REDIS_URL")
def test_cache_round_trips_through_redis():
    import redis

    cache.set("nvm-test-key", {"x": 1}, 30)
    assert cache.get("nvm-test-key") == {"x": 1}
    assert redis.Redis.from_url(os.environ["REDIS_URL"]).keys("*nvm-test-key*")  # it really is in Redis
    cache.delete("nvm-test-key")
