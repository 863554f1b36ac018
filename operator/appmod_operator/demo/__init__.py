"""The embedded stand-ins that `appmod demo` runs the whole flow on, with nothing but Python and pip:
AWS in this process (aws.py, moto), PostgreSQL from a wheel (postgres.py), what Aurora does with a new
cluster (aurora.py), and the demo's own image in an OCI image-layout directory (image.py).

Only cli.py (and demo/run.py, which it calls) imports this package (pyproject.toml's import contracts).
"""
