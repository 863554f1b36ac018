"""The shop's URLs, as Oscar's "Building your own shop" guide sets them up: the language switcher its
templates link to, Django's admin, and Oscar's own. The Oscar image (tests/images/oscar/) serves them;
in the migration tests Oscar's models and checks only resolve URLs by name."""

from django.apps import apps
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("", include(apps.get_app_config("oscar").urls[0])),
]
