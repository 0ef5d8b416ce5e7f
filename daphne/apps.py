"""Django app config: ``"daphne"`` in ``INSTALLED_APPS`` gives the ASGI ``runserver``.

Importing :mod:`daphne.server` first installs Twisted's asyncio reactor before
anything else in the project imports Twisted.  Covered by ``tests/django/``.
"""

# Install the asyncio reactor before Django or the project import Twisted.
import daphne.server  # noqa: F401  isort:skip

from django.apps import AppConfig
from django.core import checks

from .checks import check_daphne_installed


class DaphneConfig(AppConfig):
    name = "daphne"
    verbose_name = "Daphne"

    def ready(self) -> None:
        checks.register(check_daphne_installed, checks.Tags.staticfiles)
