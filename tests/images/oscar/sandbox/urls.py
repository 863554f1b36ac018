"""The sandbox's URLs: the shop's (tests/django/oscar_site/urls.py), and its uploaded pictures and their
thumbnails under /media/, which the sandbox's uWSGI maps itself (Django serves them only with DEBUG on)."""

from django.conf import settings
from django.urls import re_path
from django.views.static import serve

from tests.django.oscar_site.urls import urlpatterns as shop

urlpatterns = [
    re_path(r"^media/(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT}),
    *shop,
]
