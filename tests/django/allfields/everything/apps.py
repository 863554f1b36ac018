"""App configuration of tests/django/allfields/everything; its label makes the tables allfields_*."""

from django.apps import AppConfig


class EverythingConfig(AppConfig):
    name = "tests.django.allfields.everything"
    label = "allfields"
