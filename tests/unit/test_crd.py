"""The AppModernization CRD: accepted by Kubernetes 1.20 (structural, no CEL), shaped as
design.md says, with valid defaults, the agreed printer columns, and examples that conform."""

import copy
import re
import sys
from functools import cache
from pathlib import Path

import pytest
import yaml

try:
    from . import schema_check
except ImportError:  # tests/unit is not a package: import the module next to this file
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import schema_check

ROOT = Path(__file__).resolve().parents[2]
CRD_PATH = ROOT / "crds" / "appmodernization.yaml"
EXAMPLES = {
    "oscar": ROOT / "examples" / "oscar.yaml",
    "minimal": ROOT / "examples" / "minimal.yaml",
}


@cache
def _load(path):
    with open(path, encoding="utf-8") as f:
        docs = [d for d in yaml.safe_load_all(f) if d is not None]
    assert len(docs) == 1, f"{path}: expected exactly one YAML document"
    return docs[0]


def load(path):
    return copy.deepcopy(_load(path))


def crd():
    return load(CRD_PATH)


def version():
    return crd()["spec"]["versions"][0]


def schema():
    return version()["schema"]["openAPIV3Schema"]


def node_at(path):
    """The schema node at a dotted path such as 'spec.service.env[]'."""
    node = schema()
    for part in path.split("."):
        name = part.removesuffix("[]")
        node = node["properties"][name]
        if part.endswith("[]"):
            node = node["items"]
    return node


def validate_resource(doc):
    """Errors for a whole AppModernization document, as the apiserver would see them."""
    errors = []
    if doc.get("apiVersion") != "appmod.io/v1alpha1" or doc.get("kind") != "AppModernization":
        errors.append(f"wrong apiVersion/kind: {doc.get('apiVersion')} {doc.get('kind')}")
    metadata = doc.get("metadata") or {}
    if not isinstance(metadata.get("name"), str) or not metadata["name"]:
        errors.append("metadata.name missing")
    # metadata is validated by the apiserver's ObjectMeta rules, not by the CRD schema
    body = {k: v for k, v in doc.items() if k != "metadata"}
    return errors + schema_check.validate(body, schema())


def leaf_paths(node, prefix):
    """Dotted paths of every property under a schema node (arrays of objects as name[])."""
    paths = set()
    for name, sub in node.get("properties", {}).items():
        path = f"{prefix}.{name}" if prefix else name
        paths.add(path)
        if sub.get("type") == "array" and sub["items"].get("type") == "object":
            paths |= leaf_paths(sub["items"], path + "[]")
        paths |= leaf_paths(sub, path)
    return paths


# ---------------------------------------------------------------------------------- identity


def test_crd_names_group_scope_and_version():
    doc = crd()
    assert doc["apiVersion"] == "apiextensions.k8s.io/v1"
    assert doc["kind"] == "CustomResourceDefinition"
    assert doc["metadata"]["name"] == "appmodernizations.appmod.io"
    spec = doc["spec"]
    assert spec["group"] == "appmod.io"
    assert spec["scope"] == "Namespaced"
    assert spec["names"] == {
        "kind": "AppModernization",
        "listKind": "AppModernizationList",
        "plural": "appmodernizations",
        "singular": "appmodernization",
        "shortNames": ["appmod", "appmods"],
        "categories": ["all"],
    }
    assert [(v["name"], v["served"], v["storage"]) for v in spec["versions"]] == [("v1alpha1", True, True)]
    assert version()["subresources"] == {"status": {}}


# ---------------------------------------------------------------------- accepted by 1.20


def test_schema_is_structural():
    nodes = list(schema_check.iter_nodes(schema()))
    assert len(nodes) > 100, "the walker found too few nodes to mean anything"
    assert schema_check.structural_problems(schema()) == []


def test_structural_check_catches_untyped_nodes_and_typed_branches():
    bad = {
        "type": "object",
        "properties": {"a": {"description": "no type"}},
        "oneOf": [{"required": ["a"]}, {"required": ["b"], "type": "object"}],
    }
    problems = schema_check.structural_problems(bad)
    assert any("$.a: no type" in p for p in problems)
    assert any("oneOf" in p and "type" in p for p in problems)


def test_no_cel_validations_anywhere():
    assert list(schema_check.find_key(crd(), "x-kubernetes-validations")) == []


def test_nothing_preserves_unknown_fields():
    # so the apiserver prunes unknown fields everywhere, which validate() mirrors by rejecting them
    assert list(schema_check.find_key(schema(), "x-kubernetes-preserve-unknown-fields")) == []


def test_every_pattern_compiles():
    patterns = [(p, n["pattern"]) for p, n in schema_check.iter_nodes(schema()) if "pattern" in n]
    assert len(patterns) >= 15
    for path, pattern in patterns:
        assert pattern.startswith("^"), f"{path}: pattern must be anchored"
        re.compile(pattern)


def test_no_fractional_multiple_of():
    # 1.20's validator turns the factor into an integer for integral values: a request with
    # `maxCapacity: 4` under `multipleOf: 0.5` panics the apiserver (integer divide by zero)
    factors = [n["multipleOf"] for _, n in schema_check.iter_nodes(schema()) if "multipleOf" in n]
    assert all(float(f).is_integer() for f in factors), factors


# --------------------------------------------------------------------------------- defaults


def _defaulted_nodes():
    return [(p, n) for p, n in schema_check.iter_nodes(schema()) if "default" in n]


@pytest.mark.parametrize("path,node", _defaulted_nodes(), ids=[p for p, _ in _defaulted_nodes()])
def test_default_is_valid_under_its_own_schema(path, node):
    assert schema_check.validate(node["default"], node, path) == []


def test_defaults_of_the_minimal_resource_match_the_design():
    spec = schema_check.apply_defaults(load(EXAMPLES["minimal"])["spec"], node_at("spec"))
    assert spec["paused"] is False
    assert spec["deletionPolicy"] == "Snapshot"
    assert spec["source"]["platform"] == "linux/amd64"
    assert spec["database"] == {
        "engine": "aurora-postgresql",
        "engineVersion": "16.4",
        "masterUsername": "appmod",
        "minCapacity": 0,
        "maxCapacity": 4,
        "secondsUntilAutoPause": 300,
        "deletionProtection": True,
        "backupRetentionDays": 7,
    }
    assert spec["migration"] == {
        "schema": {"strategy": "Convert"},
        # No runner: its default depends on the source (spec.py), which the schema cannot express.
        "data": {"enabled": True, "verify": "Checksum", "allowReplace": False},
    }
    assert spec["image"] == {
        "via": "Registry",
        "tagMutability": "IMMUTABLE",
        "scanOnPush": True,
        "keepLast": 10,
    }
    assert spec["service"] == {
        "cluster": "appmod",
        "desiredCount": 1,
        "cpu": "512",
        "memory": "1024",
        "containerPort": 8080,
        "assignPublicIp": True,
        "databaseUrlEnv": "DATABASE_URL",
    }
    assert schema_check.validate(spec, node_at("spec"), "spec") == []


def test_defaulting_does_not_override_given_values():
    spec = {
        "source": {"image": "x"},
        "service": {"cpu": "1024"},
        "migration": {"data": {"enabled": False}},
    }
    spec = schema_check.apply_defaults(spec, node_at("spec"))
    assert spec["service"]["cpu"] == "1024" and spec["service"]["memory"] == "1024"
    assert spec["migration"]["data"] == {
        "enabled": False,
        "verify": "Checksum",
        "allowReplace": False,
    }
    assert spec["migration"]["schema"] == {"strategy": "Convert"}


# ------------------------------------------------------------------------------ spec shape


def words(text):
    return set(text.split())


# every property path under spec and status, as design.md lists them
SPEC_FIELDS = words(
    """
    region paused deletionPolicy
    source source.image source.imagePullSecret source.platform source.database
    source.database.sqlite source.database.sqlite.pathInImage source.database.sqlite.url
    source.database.sqlite.path
    database database.engine database.engineVersion database.databaseName database.masterUsername
    database.minCapacity database.maxCapacity database.secondsUntilAutoPause
    database.deletionProtection database.backupRetentionDays database.subnetIds
    migration migration.schema migration.schema.strategy migration.schema.command
    migration.data migration.data.enabled migration.data.verify migration.data.runner
    migration.data.allowReplace
    image image.repository image.via image.tagMutability image.scanOnPush image.keepLast
    service service.cluster service.desiredCount service.cpu service.memory service.containerPort
    service.assignPublicIp service.subnetIds service.securityGroupIds
    service.env service.env[].name service.env[].value service.databaseUrlEnv service.databaseEnv
"""
)

STATUS_FIELDS = words(
    """
    observedGeneration phase conditions
    conditions[].type conditions[].status conditions[].reason conditions[].message
    conditions[].observedGeneration conditions[].lastTransitionTime
    database database.clusterIdentifier database.clusterArn database.endpoint database.port
    database.status database.engineVersion database.secretArn database.resourceId
    image image.repositoryUri image.sourceDigest image.digest
    migration migration.schema migration.schema.strategy migration.schema.completedAt
    migration.schema.taskArn migration.schema.clusterResourceId migration.data migration.data.tables migration.data.rows
    migration.data.bytes migration.data.checksum migration.data.sourceDigest
    migration.data.completedAt migration.data.replaced migration.data.refreshed migration.data.renamed
    migration.data.renamed[].kind migration.data.renamed[].from migration.data.renamed[].to
    migration.data.remigrate migration.data.clusterResourceId
    service service.clusterArn service.serviceArn service.taskDefinitionArn
    service.desiredCount service.runningCount service.rolloutState service.endpoint
"""
)


def test_spec_fields_are_exactly_the_designed_ones():
    assert leaf_paths(node_at("spec"), "") == SPEC_FIELDS


def test_status_fields_are_exactly_the_designed_ones():
    assert leaf_paths(node_at("status"), "") == STATUS_FIELDS


def test_required_fields():
    assert schema()["required"] == ["spec"]
    assert node_at("spec")["required"] == ["source"]
    assert node_at("spec.source")["required"] == ["image"]
    assert node_at("spec.source.image")["minLength"] == 1
    assert node_at("spec.service.env[]")["required"] == ["name"]


def test_sqlite_source_is_exactly_one_of_three_with_patterns():
    sqlite = node_at("spec.source.database.sqlite")
    assert sqlite["oneOf"] == [
        {"required": ["pathInImage"]},
        {"required": ["url"]},
        {"required": ["path"]},
    ]
    assert {k: v["pattern"] for k, v in sqlite["properties"].items()} == {
        "pathInImage": "^/",
        "url": "^s3://[^/]+/.+",
        "path": "^/",
    }


@pytest.mark.parametrize(
    "path",
    [
        "spec.database",
        "spec.migration",
        "spec.migration.schema",
        "spec.migration.data",
        "spec.image",
        "spec.service",
    ],
)
def test_optional_blocks_default_to_empty_objects(path):
    assert node_at(path)["default"] == {}


def test_status_conventions():
    status = node_at("status")
    conditions = status["properties"]["conditions"]
    assert conditions["x-kubernetes-list-type"] == "map"
    assert conditions["x-kubernetes-list-map-keys"] == ["type"]
    item = conditions["items"]
    assert sorted(item["required"]) == ["status", "type"]
    assert item["properties"]["status"]["enum"] == ["True", "False", "Unknown"]
    assert item["properties"]["lastTransitionTime"]["format"] == "date-time"
    assert item["properties"]["observedGeneration"]["type"] == "integer"
    assert status["properties"]["observedGeneration"] == {
        "type": "integer",
        "format": "int64",
    }
    assert status["properties"]["phase"]["enum"] == [
        "Pending",
        "Provisioning",
        "Migrating",
        "Deploying",
        "Ready",
        "Degraded",
        "Failed",
        "Paused",
        "Deleting",
    ]
    integers = [
        "database.port",
        "migration.data.tables",
        "migration.data.rows",
        "migration.data.bytes",
        "service.desiredCount",
        "service.runningCount",
    ]
    for path in integers:
        assert node_at("status." + path)["type"] == "integer", path


def test_a_typical_status_validates_and_a_wrong_one_does_not():
    status = {
        "observedGeneration": 3,
        "phase": "Ready",
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "reason": "Ready",
                "message": "",
                "observedGeneration": 3,
                "lastTransitionTime": "2025-01-01T00:00:00Z",
            },
            {"type": "Stalled", "status": "False", "reason": "Progressing"},
        ],
        "service": {"runningCount": 1, "desiredCount": 1},
        "migration": {"data": {"tables": 3, "rows": 10_000_000_000}},
    }
    assert schema_check.validate(status, node_at("status"), "status") == []
    status["conditions"].append({"type": "Ready", "status": "Maybe"})
    errors = schema_check.validate(status, node_at("status"), "status")
    assert any("duplicate" in e for e in errors) and any("'Maybe'" in e for e in errors)


# --------------------------------------------------------------------------- printer columns


def test_printer_columns():
    columns = {c["name"].upper(): c for c in version()["additionalPrinterColumns"]}
    assert [n for n in columns if n != "PHASE"] == [
        "READY",
        "REASON",
        "RUNNING",
        "DATABASE",
        "DIGEST",
        "AGE",
    ]
    expected = {
        "READY": ('.status.conditions[?(@.type=="Ready")].status', "string", 0),
        "REASON": ('.status.conditions[?(@.type=="Ready")].reason', "string", 0),
        "RUNNING": (".status.service.runningCount", "integer", 0),
        "DATABASE": (".status.database.endpoint", "string", 1),
        "DIGEST": (".status.image.digest", "string", 1),
        "AGE": (".metadata.creationTimestamp", "date", 0),
        "PHASE": (".status.phase", "string", 1),
    }
    for name, column in columns.items():
        assert (
            column["jsonPath"],
            column["type"],
            column.get("priority", 0),
        ) == expected[name], name


# --------------------------------------------------------------------------------- examples


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_conforms(name):
    doc = load(EXAMPLES[name])
    assert doc["metadata"] == {"name": name}, "no namespace, so `kubectl apply -n X` works"
    assert validate_resource(doc) == []
    defaulted = dict(doc, spec=schema_check.apply_defaults(doc["spec"], node_at("spec")))
    assert validate_resource(defaulted) == []


def test_minimal_example_is_minimal():
    assert load(EXAMPLES["minimal"])["spec"] == {
        "source": {
            "image": "docker.io/oscarcommerce/django-oscar-sandbox:latest",
            "database": {"sqlite": {"pathInImage": "/app/sandbox/db.sqlite"}},
        }
    }


def test_oscar_example_content():
    spec = load(EXAMPLES["oscar"])["spec"]
    assert spec["source"]["image"] == "docker.io/oscarcommerce/django-oscar-sandbox:latest"
    assert spec["source"]["database"]["sqlite"] == {"pathInImage": "/app/sandbox/db.sqlite"}
    assert spec["migration"]["schema"] == {
        "strategy": "AppCommand",
        "command": ["python", "manage.py", "migrate", "--noinput"],
    }
    assert spec["migration"]["data"]["enabled"] is True
    assert spec["service"]["containerPort"] == 8080
    assert {"name": "DJANGO_SETTINGS_MODULE", "value": "settings"} in spec["service"]["env"]
    # The sandbox's settings read DATABASE_*, the secret's parts (issue 12); the engine is plain.
    assert {"name": "DATABASE_ENGINE", "value": "django.db.backends.postgresql"} in spec["service"]["env"]
    assert spec["service"]["databaseEnv"] == {"DATABASE_NAME": "dbname", "DATABASE_USER": "username",
                                              "DATABASE_PASSWORD": "password", "DATABASE_HOST": "host",
                                              "DATABASE_PORT": "port"}
