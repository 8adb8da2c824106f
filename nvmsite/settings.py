"""Settings, read from the environment (DESIGN.md "Running it").

Embedded default: a SQLite file in NVM_HOME, a file cache there (rate limits), in-memory channel layer.
DATABASE_URL switches to PostgreSQL (psycopg 3), REDIS_URL to Redis for cache and channel
layer, CELERY_BROKER_URL to Celery workers.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
NVM_HOME = Path(os.environ.get("NVM_HOME", BASE_DIR / ".nvm")).resolve()


def _flag(name: str, default: bool = False) -> bool:
    v = os.environ.get(name)
    return default if v is None else v.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = _flag("DJANGO_DEBUG")
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "nvm-devnet-not-secret")  # a devnet holds no secrets
ALLOWED_HOSTS = os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver").split(",")

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.staticfiles",
    "channels",
    "nvmsite",
    "chain.store",
    "rpc",
    "explorer",
    "faucet",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
]

ROOT_URLCONF = "nvmsite.urls"
ASGI_APPLICATION = "nvmsite.asgi.application"
WSGI_APPLICATION = "nvmsite.wsgi.application"
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request", "nvmsite.context.devnet"]},
    }
]

if os.environ.get("DATABASE_URL"):
    # Persistent connections, one per thread: HTTP runs on a fixed pool of reused threads
    # (nvmsite/asgi.py), so they stay few (Django's ASGI handler, a thread per request, would pile them up).
    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=60)}
else:
    NVM_HOME.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": NVM_HOME / "nvm.sqlite3",
            "OPTIONS": {
                # WAL lets the web server read while the block producer writes; IMMEDIATE
                # takes the write lock up front so two writers queue instead of deadlocking.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
# Explorer pages as rendered at a block height, in each web process's memory (explorer/cache.py)
PAGE_CACHE = {
    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    "LOCATION": "nvm-pages",
    "TIMEOUT": 120,
    "OPTIONS": {"MAX_ENTRIES": 4000},
}
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}, "pages": PAGE_CACHE}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [REDIS_URL]}}}
else:
    # Files in NVM_HOME: the faucet's rate limits must hold across every web process of the devnet.
    FILE_CACHE = {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(NVM_HOME / "cache")}
    CACHES = {"default": FILE_CACHE, "pages": PAGE_CACHE}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", CELERY_BROKER_URL) or None
CELERY_WORKER_PREFETCH_MULTIPLIER = 1  # a part of a block each: a slow worker does not sit on several
CELERY_TASK_ACKS_LATE = True
NVM_WORKERS = int(os.environ.get("NVM_WORKERS", "2"))  # parts a batch is split into for the Celery workers
NVM_WORKER_TIMEOUT_S = float(os.environ.get("NVM_WORKER_TIMEOUT_S", "10"))

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]  # the explorer's CSS and script (no CDN: these machines have no internet)
USE_TZ = True
TIME_ZONE = "UTC"

# -- the chain ----------------------------------------------------------------------------
NVM_CHAIN_ID = int(os.environ.get("NVM_CHAIN_ID", "7231053"))  # SPEC §4: 0x6e564d, "nVM"
NVM_GENESIS = Path(os.environ.get("NVM_GENESIS", BASE_DIR / "chain" / "genesis.json"))
NVM_BLOCK_INTERVAL_MS = int(os.environ.get("NVM_BLOCK_INTERVAL_MS", "400"))
# How the producer runs a block (chain/parallel.py): sequential, batched or sharded — the same blocks either way
NVM_EXECUTION = os.environ.get("NVM_EXECUTION", "sequential")
NVM_ON_DEMAND = _flag("NVM_ON_DEMAND")  # a block as soon as a transaction arrives
# Devnet controls (mining, time; nvmsite/devctl.py): on for `make devnet` / `nvm devnet`, off otherwise.
NVM_DEVNET = _flag("NVM_DEVNET")
NVM_MAX_BLOCK_TXS = int(os.environ.get("NVM_MAX_BLOCK_TXS", "20000"))
# Engines to install, as "module" or "module:attribute" paths; each registers its opcode range.
ALL_ENGINES = "engines.native,engines.evm,engines.svm,engines.bvm,engines.tvm"
NVM_ENGINES = [e for e in os.environ.get("NVM_ENGINES", ALL_ENGINES).split(",") if e]
NVM_EVM_FORK = os.environ.get("NVM_EVM_FORK", "shanghai")  # the EVM's rules: shanghai, cancun or prague
# The faucet (faucet/service.py): whose funds, how much, how often.
NVM_FAUCET_REV = os.environ.get("NVM_FAUCET_REV", "11" * 32)  # ACE dev identity #0 of chain/genesis.json
NVM_FAUCET_AMOUNT = int(os.environ.get("NVM_FAUCET_AMOUNT", str(10 * 10**9)))  # base units: 10 NVM
NVM_FAUCET_ADDRESS_WINDOW_S = int(os.environ.get("NVM_FAUCET_ADDRESS_WINDOW_S", "60"))  # one drip per address per window
NVM_FAUCET_CLIENT_LIMIT = int(os.environ.get("NVM_FAUCET_CLIENT_LIMIT", "10"))  # drips per client per window
NVM_FAUCET_CLIENT_WINDOW_S = int(os.environ.get("NVM_FAUCET_CLIENT_WINDOW_S", "600"))
NVM_ENGINE_OPTIONS = {"engines.evm": {"fork": NVM_EVM_FORK}}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
