"""App configuration of tests/django/dump (listed in both projects' INSTALLED_APPS)."""

from django.apps import AppConfig


class DumpConfig(AppConfig):
    name = "tests.django.dump"
    label = "appmod_dump"
