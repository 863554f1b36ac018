"""SQLite to PostgreSQL: schema conversion, the data copy and its verification (issue 3).

Runs on its own as `appmod migrate`, so it imports neither kopf nor boto3 (an import-linter
contract in pyproject.toml holds it to that).
"""
