"""Real Django projects (django-oscar's shop and every-field-type `allfields`) that the migration tests use as
sources and targets; tests/django/project.py drives them, each call in a subprocess of its own."""
