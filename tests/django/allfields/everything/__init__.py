"""The allfields project's one app: models covering every Django model field type (models.py), and the
fill_allfields and new_rows commands."""
