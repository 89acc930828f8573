"""How apps above accounts contribute to what accounts assembles (dashboard panels, demo data).

An app offers a contribution by defining a module of an agreed name (``dashboard.py``, ``demo.py``);
accounts imports those modules by name, so it never imports an app that depends on it.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib import import_module
from types import ModuleType

from django.apps import apps


def app_modules(module_name: str) -> Iterator[ModuleType]:
    """``apps.<app>.<module_name>`` of every portal app but accounts, in INSTALLED_APPS order."""
    for config in apps.get_app_configs():
        if not config.name.startswith("apps.") or config.name == "apps.accounts":
            continue
        qualified = f"{config.name}.{module_name}"
        try:
            yield import_module(qualified)
        except ModuleNotFoundError as exc:
            if exc.name != qualified:
                raise
