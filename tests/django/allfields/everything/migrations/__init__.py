"""The allfields app's migrations, applied by `migrate` (tests/django/project.py)."""
