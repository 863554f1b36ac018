"""An app with no models, installed in both projects, for the `canonical_dump` command that
tests/django/project.py (dumpdata) reads."""
