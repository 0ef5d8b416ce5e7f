"""Django system check: ``daphne`` must come before ``django.contrib.staticfiles``.

Both apps ship a ``runserver`` command and Django uses the first one listed.
Covered by ``tests/django/test_django_integration.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.checks import Error, register

if TYPE_CHECKING:
    from collections.abc import Sequence

    from django.apps import AppConfig

__all__ = ["check_daphne_installed"]


@register()
def check_daphne_installed(
    app_configs: Sequence[AppConfig] | None, **kwargs: object
) -> list[Error]:
    """Error ``daphne.E001`` when staticfiles is listed before daphne."""
    from django.apps import apps
    from django.contrib.staticfiles.apps import StaticFilesConfig

    from daphne.apps import DaphneConfig

    for app in apps.get_app_configs():
        if isinstance(app, DaphneConfig):
            return []
        if isinstance(app, StaticFilesConfig):
            return [
                Error(
                    "Daphne must be listed before django.contrib.staticfiles in INSTALLED_APPS.",
                    id="daphne.E001",
                )
            ]
    return []
