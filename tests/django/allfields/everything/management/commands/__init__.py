"""This app's management commands, one module each, run by tests/django/project.py through `python -m django`."""
