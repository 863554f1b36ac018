"""The shop's own app: management commands that fill the database through Oscar's models (fill_shop, whose
parts are in shop/) and add one product after a migration (new_product). No models, so no tables of its own."""
