"""SQLite to PostgreSQL: schema conversion, the data copy and its verification.

Runs on its own as `appmod migrate`, so it imports neither kopf nor boto3 (an import-linter
contract in pyproject.toml holds it to that). The entry point is `run.migrate(source, target_url,
Options(...))`, which returns a `Report` (both in job.py, also reachable as run.Options, run.Report).
Modules: source (the SQLite side) -> plan (kinds, ranges) -> ddl (convert-mode statements) -> copy
(the COPY of one unit) -> verify (checksums) -> run (orchestration, convert mode) and existing
(existing mode); columns holds the per-kind renderings, target the PostgreSQL side.
"""
