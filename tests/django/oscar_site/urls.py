"""The shop's URLs: Oscar's, as its guide sets them up. Nothing here serves requests in the tests; Oscar's
models and checks resolve URLs by name, so the configuration has to exist."""

from django.apps import apps
from django.urls import include, path

urlpatterns = [
    path("", include(apps.get_app_config("oscar").urls[0])),
]
