"""A small Django project whose one app (`everything`) has a column of every Django model field type, filled
with edge values; the migration tests use it to check that each type survives SQLite -> PostgreSQL."""
