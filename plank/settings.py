"""Plank settings: one module, driven by ``PLANK_*`` environment variables.

The embedded default (what ``make run`` uses) is SQLite under ``PLANK_DATA_DIR``, an in-memory
channel layer and a local-memory cache. ``PLANK_DATABASE_URL`` switches to PostgreSQL and
``PLANK_REDIS_URL`` to Redis for the cache and the channel layer (the scaled-out setup).
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.management.utils import get_random_secret_key

from plank.private_files import private_dir, private_file, private_sqlite

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str = "") -> str:
    return os.environ.get(f"PLANK_{name}", default)


def env_bool(name: str, default: bool = False) -> bool:
    value = env(name, "")
    if not value:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DATA_DIR = Path(env("DATA_DIR", str(BASE_DIR / "data"))).resolve()
private_dir(DATA_DIR)  # a data folder Plank creates is readable by its owner only
DOWNLOADS_DIR = DATA_DIR / "downloads"
LIBRARY_DIR = DATA_DIR / "library"
POSTERS_DIR = DATA_DIR / "posters"
RESUME_DIR = DATA_DIR / "resume"


def _secret_key() -> str:
    """PLANK_SECRET_KEY, or a key generated once and kept in the data directory."""
    if key := env("SECRET_KEY"):
        return key
    path = DATA_DIR / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        key = get_random_secret_key()
        private_file(path).write_text(key)
        return key


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = [
    h.strip() for h in env("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",") if h.strip()
]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in env("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "django_htmx",
    "template_partials",
    "cachalot",
    "django_tasks",
    "django_tasks_db",
    "plank",
    "plank.live",
    "media",
    "browse",
    "torrents",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "plank.csp.ContentSecurityPolicyMiddleware",  # every response, errors too (issue 11)
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "plank.middleware.FirstRunMiddleware",
    "plank.middleware.LoginRequiredMiddleware",
    "plank.slow.DoingMiddleware",  # names the request in the slow-query log (issue 13)
]

ROOT_URLCONF = "plank.urls"
ASGI_APPLICATION = "plank.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
            "builtins": ["plank.templatetags.live"],
        },
    }
]

# --- database -------------------------------------------------------------------------------

DATABASE_URL = env("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            # Created owner-only before SQLite opens it (its -wal and -shm files follow its mode).
            "NAME": private_sqlite(DATA_DIR / "plank.sqlite3"),
            "OPTIONS": {
                # WAL lets readers and the one writer work at once; the relay's checkpoint and
                # journal_size_limit keep the log from growing without bound (see plank.db).
                "init_command": (
                    "PRAGMA journal_mode=WAL;"
                    "PRAGMA synchronous=NORMAL;"
                    "PRAGMA journal_size_limit=67108864;"
                    "PRAGMA wal_autocheckpoint=1000;"
                    "PRAGMA foreign_keys=ON;"
                ),
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
            # A file (not memory) so that tests can reach it from other processes; one per
            # test run so that concurrent runs never share it.
            "TEST": {"NAME": DATA_DIR / f"test-{os.getpid()}.sqlite3"},
        }
    }
DATABASE_IS_POSTGRES = DATABASES["default"]["ENGINE"].endswith("postgresql")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- cache and channel layer ----------------------------------------------------------------

REDIS_URL = env("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env("CACHE_PREFIX", "plank"),
            # Wait for a free connection instead of failing under a burst of requests.
            "OPTIONS": {
                "pool_class": "redis.BlockingConnectionPool",
                "max_connections": 100,
                "timeout": 5,
            },
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # redis-py's default 5 s socket timeout races channels_redis's 5 s blocking read and
            # closes idle sockets with 1011: give the socket more time than the read.
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_timeout": 10}],
                "prefix": env("CACHE_PREFIX", "plank") + ":asgi",
            },
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "plank",
            "OPTIONS": {"MAX_ENTRIES": 20000},
        }
    }
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
CACHE_IS_SHARED = bool(REDIS_URL)

CACHALOT_ENABLED = env_bool("CACHALOT", True)
CACHALOT_TIMEOUT = 3600
CACHALOT_UNCACHABLE_TABLES = frozenset(
    {
        "django_migrations",
        "django_session",
        "live_outbox",
        "browse_syncrun",
        # written every few seconds by the engine thread; a cached read could outlive a commit
        "torrents_download",
        "torrents_enginecommand",
        "django_tasks_database_dbtaskresult",
        "django_tasks_database_dbworkerheartbeat",
        "django_tasks_db_dbtaskresult",
        # the scheduler's rows: written by its threads (progress, heartbeats, the lease)
        "plank_scheduledtask",
        "plank_taskrun",
        "plank_schedulerlease",
    }
)

# "scheduled": the runs of plank.scheduler, run by the scheduler's own workers.
TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default", "scheduled"],
    }
}

# --- auth -----------------------------------------------------------------------------------

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "SAMEORIGIN"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# --- i18n, static ---------------------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# --- Plank's own ----------------------------------------------------------------------------

PLANK_TMDB_API_KEY = env("TMDB_API_KEY")
PLANK_TMDB_BASE_URL = env("TMDB_BASE_URL", "https://api.themoviedb.org/3").rstrip("/")
PLANK_TORRENT_LISTEN = env("TORRENT_LISTEN", "0.0.0.0:6881")
# First values of the engine's run-time settings (then edited on /settings/, kept in the DB).
PLANK_TORRENT_DHT = env_bool("TORRENT_DHT", True)
PLANK_TORRENT_LSD = env_bool("TORRENT_LSD", True)
PLANK_TORRENT_UPNP = env_bool("TORRENT_UPNP", True)
PLANK_TORRENT_SEED_RATIO = float(env("TORRENT_SEED_RATIO")) if env("TORRENT_SEED_RATIO") else None
PLANK_METADATA_TIMEOUT = int(env("METADATA_TIMEOUT", "120"))
PLANK_TORRENT_RESUME_SECONDS = float(env("TORRENT_RESUME_SECONDS", "30"))
PLANK_MIN_VIDEO_SIZE = int(env("MIN_VIDEO_SIZE", str(1024 * 1024)))  # smaller videos are samples
PLANK_DOWNLOAD_SAVE_SECONDS = float(env("DOWNLOAD_SAVE_SECONDS", "5"))
# /downloads/ warns when the downloads folder's disk has less free than this (bytes)
PLANK_LOW_DISK_BYTES = int(env("LOW_DISK_BYTES", str(10 * 1024**3)))
PLANK_STREAM_TIMEOUT = float(env("STREAM_TIMEOUT", "20"))
# The roles of this process ("web", "engine"); `serve` and `engine` set them (see plank.parts).
# Management commands and tests run with none: no relay, no engine, unless a test starts them.
PLANK_ROLES: frozenset[str] = frozenset()
# In a worker of `serve --workers N` without the engine: where worker 0 answers the streams of
# files still downloading (127.0.0.1:PORT, set by serve; media/stream_forward.py).
PLANK_STREAM_FORWARD = ""
PLANK_RELAY_POLL_SECONDS = float(env("RELAY_POLL_SECONDS", "0.1"))

# The live layer's tuning (settings only, not environment variables: tests change them).
PLANK_LIVE_PG_POLL_SECONDS = 2.0  # the relay's fallback poll while LISTEN works (PostgreSQL)
PLANK_LIVE_PRUNE_SECONDS = 60.0  # how often a relay prunes the outbox
PLANK_LIVE_CHECKPOINT_SECONDS = 300.0  # how often a relay checkpoints SQLite's write-ahead log
PLANK_LIVE_RETAIN_MINUTES = 60.0  # outbox rows are kept this long...
PLANK_LIVE_RETAIN_ROWS = 10_000  # ...and at most this many
PLANK_LIVE_REPLAY_MAX = 1000  # a reconnecting page is replayed at most this many rows, else resync
PLANK_LIVE_CACHE: dict[str, object] = {}  # keyword options for every plank.live.cache.LiveCache

# --- Live and fast at scale (issue 10): sockets, fragments, workers ---------------------------
PLANK_LIVE_QUEUE_FRAMES = 256  # frames waiting for one socket before it is told to resync (4429)
PLANK_LIVE_SET_TICK_SECONDS = 0.25  # pushed values reach each socket once per tick, coalesced
PLANK_LIVE_WATCH_GRACE_SECONDS = 0.25  # a socket that sends no `watch` gets its hello after this
PLANK_LIVE_WAKE_POLL_SECONDS = 1.0  # the relay's fallback poll while local wake-ups work (SQLite)
PLANK_FRAGMENT_EXPIRE_SECONDS = 6 * 3600.0  # a rendered fragment is kept this long at most
PLANK_LIBRARY_PAGE_SIZE = 48  # titles per page of the library grid

# --- library folders, scans and the scheduler (issue 13) ---
PLANK_SCHEDULER_TICK_SECONDS = 1.0  # how often the scheduler looks for due tasks
PLANK_SCHEDULER_LEASE_SECONDS = 15.0  # a scheduler that stops renewing is replaced after this
PLANK_SCHEDULER_WORKERS = 3  # scheduled runs that may run at the same time
PLANK_SCHEDULER_KEEP_RUNS = 50  # runs kept per task
# Where the library folders' browser may look (comma-separated absolute paths).
PLANK_LIBRARY_ROOTS = [r.strip() for r in env("LIBRARY_ROOTS", "/").split(",") if r.strip()]
PLANK_SCAN_PROBE_WORKERS = int(env("SCAN_PROBE_WORKERS", "0")) or (os.cpu_count() or 2)
PLANK_WATCH_DEBOUNCE_MS = 800  # changes within this window reach one scan
PLANK_SLOW_QUERY_MS = float(env("SLOW_QUERY_MS", "200"))  # queries slower than this are logged
PLANK_SLOW_UPSTREAM_MS = float(env("SLOW_UPSTREAM_MS", "2000"))  # and upstream calls

# --- Trust (issue 11): people, login throttling, crash recovery --------------------------------
PLANK_INVITE_DAYS = int(env("INVITE_DAYS", "7"))  # an invitation link works this long, once
# Failed logins: this many per user name, or per address, within the window lock that name or
# address out until the window has passed (counted in Django's cache).
PLANK_LOGIN_FAILURES_PER_USER = int(env("LOGIN_FAILURES_PER_USER", "5"))
PLANK_LOGIN_FAILURES_PER_ADDRESS = int(env("LOGIN_FAILURES_PER_ADDRESS", "20"))
PLANK_LOGIN_WINDOW_SECONDS = int(env("LOGIN_WINDOW_SECONDS", "900"))
# Proxies in front of Plank (comma-separated addresses) whose X-Forwarded-For names the client
# (for login throttling per address); none by default: the header is then ignored.
PLANK_TRUSTED_PROXIES = frozenset(a.strip() for a in env("TRUSTED_PROXIES").split(",") if a.strip())
PLANK_RECONCILE_SECONDS = float(env("RECONCILE_SECONDS", "60"))  # engine vs rows, periodically
# Failed logins are counted for every worker process at once: in Redis when there is one, else
# in files under the data folder (the default cache is one process's memory).
CACHES["logins"] = (
    {**CACHES["default"], "KEY_PREFIX": env("CACHE_PREFIX", "plank") + ":logins"}
    if REDIS_URL
    else {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(DATA_DIR / "cache" / "logins"),
    }
)
# Tests only: kill this process with SIGKILL at these named points (plank.faults).
PLANK_CRASH_AT = frozenset(p.strip() for p in env("CRASH_AT").split(",") if p.strip())

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.channels.server": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
        # its DEBUG lines hold request URLs, and a v3 TMDB key travels in the query string
        "urllib3.connectionpool": {"level": "INFO"},
    },
}
