"""A minimal django-oscar 4.2 shop, set up as Oscar's "Building your own shop" guide says; the legacy app whose
database the migration tests move. Its `fill` app holds the commands that fill it and add to it."""
