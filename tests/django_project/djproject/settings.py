"""Settings of the small Django project the integration tests drive."""

import os

BASE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECRET_KEY = "test-only-not-secret"
DEBUG = os.environ.get("DJ_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["*"]
_order = os.environ.get("DJ_APPS_ORDER", "daphne-first")
INSTALLED_APPS = (
    ["daphne", "django.contrib.staticfiles"]
    if _order == "daphne-first"
    else ["django.contrib.staticfiles", "daphne"]
) + ["django.contrib.contenttypes", "django.contrib.auth"]
MIDDLEWARE = []
ROOT_URLCONF = "djproject.urls"
if os.environ.get("DJ_NO_ASGI") != "1":
    ASGI_APPLICATION = os.environ.get("DJ_ASGI_APPLICATION", "djproject.asgi.application")
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.path.join(BASE_DIR, "db.sqlite3"),
    }
}
STATIC_URL = "/static/"
STATICFILES_DIRS = [os.path.join(BASE_DIR, "static")]
USE_TZ = True
