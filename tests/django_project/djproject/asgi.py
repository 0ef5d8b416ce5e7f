"""The project's ASGI entry point: Django for HTTP, Channels consumers for WebSockets.

Serve it with ``daphne djproject.asgi:application`` (from ``tests/django_project``).
With ``DJPROJECT_SERVE_STATIC=1`` the HTTP side is wrapped in Django's ``ASGIStaticFilesHandler``
(as ``runserver`` does), so plain ``daphne`` serves ``/static/`` too.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djproject.settings")
# Set up Django (the app registry) before anything imports models, e.g. the auth middleware.
django_application = get_asgi_application()
if os.environ.get("DJPROJECT_SERVE_STATIC") == "1":
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    django_application = ASGIStaticFilesHandler(django_application)

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from djproject.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_application,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
