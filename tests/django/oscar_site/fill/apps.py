"""App configuration of tests/django/oscar_site/fill (listed in the shop's INSTALLED_APPS)."""

from django.apps import AppConfig


class FillConfig(AppConfig):
    name = "tests.django.oscar_site.fill"
    label = "appmod_fill"
