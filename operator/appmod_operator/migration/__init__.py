"""SQLite to PostgreSQL: schema conversion, the data copy and its verification.

Runs on its own as `appmod migrate`, so it imports neither kopf nor boto3 (an import-linter
contract in pyproject.toml holds it to that). The entry point is `run.migrate(source, target_url,
Options(...))`, which returns a `run.Report`; modules:
source (SQLite side) -> plan (kinds, ranges) -> ddl (convert-mode statements) -> copy (COPY of one
unit) -> verify (checksums) -> run (orchestration); columns holds the per-kind renderings and
target the PostgreSQL side.
"""
