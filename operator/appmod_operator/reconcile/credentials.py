"""The database credentials: one Secrets Manager secret per resource, which the operator generates,
owns and keeps current (username, password, host, port, database name and a ready-made URL).

The secret's JSON follows the shape RDS itself uses for the secrets it manages, plus `url`; its
`dbClusterIdentifier` is written only once the cluster is known to use the password, so a crash
between making the secret and the cluster converges by setting the password again (database.py).
Called by database.py; the password never leaves this module except in the create/modify request.
"""

from __future__ import annotations

import secrets as random
import string
from dataclasses import dataclass
from urllib.parse import quote

from appmod_operator.aws import clients, secrets
from appmod_operator.errors import NotOwned
from appmod_operator.names import Owner
from appmod_operator.spec import Database

# RDS master passwords: 8-41 printable ASCII characters other than / ' " @ and space.
# https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBCluster.html
PASSWORD_ALPHABET = string.ascii_letters + string.digits
PASSWORD_LENGTH = 32
ENGINE = "postgres"


@dataclass(frozen=True)
class Credentials:
    arn: str
    value: dict

    @property
    def password(self) -> str:
        return self.value["password"]

    def used_by(self, cluster_identifier: str) -> bool:
        return self.value.get("dbClusterIdentifier") == cluster_identifier

    def __repr__(self) -> str:  # never the password, whoever prints this
        return f"Credentials(arn={self.arn!r})"


def build_value(db: Database, password: str, host: str = "", port: int = 0, cluster_identifier: str = "") -> dict:
    url = f"postgresql://{quote(db.master_username)}:{quote(password, safe='')}@{host}:{port}/{db.database_name}"
    return {"engine": ENGINE, "username": db.master_username, "password": password, "host": host, "port": port,
            "dbname": db.database_name, "dbClusterIdentifier": cluster_identifier, "url": url if host else ""}


def find_credentials(region: str | None, owner: Owner) -> Credentials | None:
    found = secrets.find_secret(region, owner.secret_name)
    if found is None:
        return None
    if not owner.owns(clients.tag_dict(found.get("Tags"))):
        raise NotOwned(f"secret {owner.secret_name} exists but is not tagged appmod.io/owner={owner.ref}; "
                       "not using it")
    if found.get("DeletedDate"):  # scheduled for deletion by an earlier teardown: take it back
        secrets.restore_secret(region, found["ARN"])
    return Credentials(found["ARN"], secrets.read_secret(region, found["ARN"]))


def ensure_credentials(region: str | None, owner: Owner, db: Database) -> Credentials:
    """The resource's secret, made with a new password if it does not exist yet."""
    found = find_credentials(region, owner)
    if found is not None:
        return found
    value = build_value(db, _new_password())
    arn = secrets.create_secret(region, owner.secret_name, f"appmod-operator: database credentials of {owner.ref}",
                                value, owner.tags)
    return Credentials(arn, value)


def ensure_current(region: str | None, credentials: Credentials, db: Database, cluster: dict) -> Credentials:
    """The secret brought up to date with the cluster: endpoint, port, and the cluster that uses the password."""
    wanted = build_value(db, credentials.password, cluster.get("Endpoint") or "", cluster.get("Port") or 0,
                         cluster["DBClusterIdentifier"])
    if wanted == credentials.value:
        return credentials
    secrets.write_secret(region, credentials.arn, wanted)
    return Credentials(credentials.arn, wanted)


def delete_credentials(region: str | None, owner: Owner, recovery_days: int) -> None:
    found = secrets.find_secret(region, owner.secret_name)
    if found is not None and owner.owns(clients.tag_dict(found.get("Tags"))) and not found.get("DeletedDate"):
        secrets.delete_secret(region, found["ARN"], recovery_days)


def _new_password() -> str:
    return "".join(random.choice(PASSWORD_ALPHABET) for _ in range(PASSWORD_LENGTH))
