"""Names Aurora PostgreSQL refuses for the master user and the database: PostgreSQL's reserved key words
(https://www.postgresql.org/docs/16/sql-keywords-appendix.html, "reserved" and "reserved (can be function
or type)") and the names RDS keeps for itself. CreateDBCluster rejects them ("Can't be a reserved word for
the chosen database engine": https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBCluster.html);
spec.py refuses them first, naming the field, before anything is made.

Called by spec.py.
"""

from __future__ import annotations

POSTGRESQL_RESERVED = frozenset({
    "all", "analyse", "analyze", "and", "any", "array", "as", "asc", "asymmetric", "authorization", "binary",
    "both", "case", "cast", "check", "collate", "collation", "column", "concurrently", "constraint", "create",
    "cross", "current_catalog", "current_date", "current_role", "current_schema", "current_time",
    "current_timestamp", "current_user", "default", "deferrable", "desc", "distinct", "do", "else", "end",
    "except", "false", "fetch", "for", "foreign", "freeze", "from", "full", "grant", "group", "having", "ilike",
    "in", "initially", "inner", "intersect", "into", "is", "isnull", "join", "lateral", "leading", "left",
    "like", "limit", "localtime", "localtimestamp", "natural", "not", "notnull", "null", "offset", "on", "only",
    "or", "order", "outer", "overlaps", "placing", "primary", "references", "returning", "right", "select",
    "session_user", "similar", "some", "symmetric", "system_user", "table", "tablesample", "then", "to",
    "trailing", "true", "union", "unique", "user", "using", "variadic", "verbose", "when", "where", "window",
    "with",
})
# Roles and databases RDS makes in every cluster.
RDS_RESERVED = frozenset({"rdsadmin", "rdsrepladmin", "rds_superuser", "rds_replication", "postgres",
                          "template0", "template1"})


def reserved(name: str) -> bool:
    return name.lower() in POSTGRESQL_RESERVED or name.lower() in RDS_RESERVED
