"""Settings of the small Django + Channels project the integration and recipe tests drive.

Environment variables (all optional):

* ``DJ_DEBUG`` (``1``), ``DJ_APPS_ORDER``, ``DJ_NO_ASGI``, ``DJ_ASGI_APPLICATION``: used by
  ``tests/django/test_django_integration.py`` to provoke the daphne system check and runserver
  errors.
* ``DJPROJECT_REDIS_URL``: when set (``redis://127.0.0.1:6379/0``), the channel layer is
  ``channels_redis``, so that several server processes share groups; otherwise it is the
  in-process ``InMemoryChannelLayer``.
* ``DJPROJECT_DB`` / ``DJPROJECT_TEST_DB``: the SQLite files for serving and for tests
  (``ChannelsLiveServerTestCase`` refuses in-memory databases).
* ``DJPROJECT_STATIC_ROOT``: where ``collectstatic`` puts files for a front server to serve.
"""

import os
import tempfile

BASE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECRET_KEY = "test-only-not-secret"
DEBUG = os.environ.get("DJ_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["*"]
_order = os.environ.get("DJ_APPS_ORDER", "daphne-first")
INSTALLED_APPS = [
    *(
        ["daphne", "django.contrib.staticfiles"]
        if _order == "daphne-first"
        else ["django.contrib.staticfiles", "daphne"]
    ),
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "channels",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "djproject.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [os.path.join(BASE_DIR, "templates")],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
if os.environ.get("DJ_NO_ASGI") != "1":
    ASGI_APPLICATION = os.environ.get("DJ_ASGI_APPLICATION", "djproject.asgi.application")
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DJPROJECT_DB", os.path.join(BASE_DIR, "db.sqlite3")),
        "TEST": {
            "NAME": os.environ.get(
                "DJPROJECT_TEST_DB", os.path.join(tempfile.gettempdir(), "djproject-test.sqlite3")
            )
        },
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
STATIC_URL = "/static/"
STATICFILES_DIRS = [os.path.join(BASE_DIR, "static")]
STATIC_ROOT = os.environ.get("DJPROJECT_STATIC_ROOT") or None
USE_TZ = True

_redis_url = os.environ.get("DJPROJECT_REDIS_URL")
if _redis_url:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [_redis_url]},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
