"""spec.parse: defaults, the rules the CRD cannot express, and agreement with the CRD itself."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from appmod_operator import spec
from appmod_operator.errors import SpecError
from tests.unit.schema_check import apply_defaults

ROOT = Path(__file__).resolve().parents[2]
CRD = yaml.safe_load((ROOT / "crds" / "appmodernization.yaml").read_text())
SPEC_SCHEMA = CRD["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
MINIMAL = {"source": {"image": "registry.example/app:1", "database": {"sqlite": {"path": "/data/db.sqlite"}}}}


def with_(**changes) -> dict:
    """MINIMAL with dotted-path changes applied, e.g. with_(**{"database.minCapacity": 2})."""
    body = copy.deepcopy(MINIMAL)
    for dotted, value in changes.items():
        *parents, leaf = dotted.split(".")
        node = body
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    return body


def error_of(body: dict) -> SpecError:
    with pytest.raises(SpecError) as caught:
        spec.parse(body, "shop", "oscar")
    return caught.value


def test_defaults_match_what_the_api_server_fills_in():
    server_defaulted = apply_defaults(copy.deepcopy(MINIMAL), SPEC_SCHEMA)
    assert server_defaulted != MINIMAL
    assert spec.parse(server_defaulted, "shop", "oscar") == spec.parse(MINIMAL, "shop", "oscar")


def test_derived_names_come_from_namespace_and_name():
    parsed = spec.parse(MINIMAL, "shop", "oscar-2")
    assert parsed.image.repository == "shop-oscar-2"
    assert parsed.database.database_name == "oscar_2"
    assert spec.parse(MINIMAL, "shop", "9lives").database.database_name == "app_9lives"


@pytest.mark.parametrize(("constant", "path"), [
    (spec.DELETION_POLICIES, "deletionPolicy"),
    (spec.SCHEMA_STRATEGIES, "migration.schema.strategy"),
    (spec.VERIFY_MODES, "migration.data.verify"),
    (spec.RUNNERS, "migration.data.runner"),
    (spec.IMAGE_VIA, "image.via"),
    (spec.TAG_MUTABILITY, "image.tagMutability"),
    (tuple(spec.FARGATE_MEMORY), "service.cpu"),
])
def test_enums_match_the_crd(constant, path):
    node = SPEC_SCHEMA
    for key in path.split("."):
        node = node["properties"][key]
    assert tuple(node["enum"]) == constant


@pytest.mark.parametrize("name", ["oscar.yaml", "minimal.yaml"])
def test_examples_parse(name):
    body = yaml.safe_load((ROOT / "examples" / name).read_text())
    parsed = spec.parse(body["spec"], "shop", body["metadata"]["name"])
    assert parsed.source.sqlite is not None


@pytest.mark.parametrize(("changes", "field", "words"), [
    ({"source.database.sqlite": {"path": "/a", "url": "s3://b/k"}}, "spec.source.database.sqlite", "got url, path"),
    ({"source.database.sqlite": {}}, "spec.source.database.sqlite", "got none"),
    ({"database.minCapacity": 8, "database.maxCapacity": 4}, "spec.database.minCapacity", "greater than"),
    ({"database.minCapacity": 1.25}, "spec.database.minCapacity", "multiple of 0.5"),
    ({"database.engineVersion": "15.4"}, "spec.database.minCapacity", "15.4"),
    ({"migration.schema.strategy": "AppCommand"}, "spec.migration.schema.command", "required"),
    ({"migration.schema.command": ["migrate"]}, "spec.migration.schema.command", "only used with"),
    ({"service.cpu": "256", "service.memory": "4096"}, "spec.service.memory", "512, 1024, 2048"),
    ({"service.env": [{"name": "A"}, {"name": "A"}]}, "spec.service.env[1].name", "set twice"),
    ({"service.env": [{"name": "DATABASE_URL", "value": "x"}]}, "spec.service.env[0].name", "databaseUrlEnv"),
    ({"deletionPolicy": "Maybe"}, "spec.deletionPolicy", "Delete, Snapshot, Retain"),
    ({"database.maxCapacity": 1000}, "spec.database.maxCapacity", "out of range"),
    ({"service.desiredCount": "2"}, "spec.service.desiredCount", "integer"),
    ({"servce": {}}, "spec.servce", "unknown field"),
    ({"source.image": None}, "spec.source.image", "required"),
    ({"migration.data.enabled": True, "source.database": {}}, "spec.source.database.sqlite", "required when"),
])
def test_wrong_specs_name_the_field(changes, field, words):
    error = error_of(with_(**changes))
    assert error.field == field
    assert words in str(error)


def test_no_sqlite_source_is_fine_without_data_or_convert():
    body = with_(**{"source.database": {}, "migration.data.enabled": False, "migration.schema.strategy": "None"})
    assert spec.parse(body, "shop", "oscar").source.sqlite is None


def test_a_fargate_runner_cannot_read_a_path_source():
    error = error_of(with_(**{"migration.data.runner": "Fargate"}))  # MINIMAL's source is a path
    assert error.field == "spec.migration.data.runner"
    assert "cannot read spec.source.database.sqlite.path" in error.message


@pytest.mark.parametrize("source", [{"pathInImage": "/app/db.sqlite"}, {"url": "s3://legacy/db.sqlite"}])
def test_a_fargate_runner_reads_a_path_in_the_image_or_an_s3_object(source):
    body = with_(**{"migration.data.runner": "Fargate", "source.database.sqlite": source})
    parsed = spec.parse(body, "shop", "oscar")
    assert parsed.migration.data_runner == "Fargate" and parsed.source.sqlite.kind == next(iter(source))


@pytest.mark.parametrize(("source", "runner"), [({"pathInImage": "/app/db.sqlite"}, "Fargate"),
                                                ({"url": "s3://legacy/db.sqlite"}, "Fargate"),
                                                ({"path": "/data/db.sqlite"}, "Operator")])
def test_the_runner_defaults_to_fargate_unless_only_the_operator_can_read_the_file(source, runner):
    parsed = spec.parse(with_(**{"source.database.sqlite": source}), "shop", "oscar")
    assert parsed.migration.data_runner == runner


def test_database_env_maps_variables_to_the_secrets_keys_sorted():
    body = with_(**{"service.databaseEnv": {"DATABASE_USER": "username", "DATABASE_HOST": "host"}})
    assert spec.parse(body, "shop", "oscar").service.database_env == (("DATABASE_HOST", "host"),
                                                                      ("DATABASE_USER", "username"))


@pytest.mark.parametrize(("database_env", "more", "field", "words"), [
    ({"DATABASE_HOST": "hostname"}, {}, "spec.service.databaseEnv.DATABASE_HOST", "'hostname' is not one of host"),
    ({"DATABASE-HOST": "host"}, {}, "spec.service.databaseEnv.DATABASE-HOST", "not an environment variable name"),
    ({"DATABASE_URL": "url"}, {}, "spec.service.databaseEnv.DATABASE_URL", "databaseUrlEnv already"),
    ({"DATABASE_HOST": "host"}, {"service.env": [{"name": "DATABASE_HOST", "value": "x"}]},
     "spec.service.env[0].name", "spec.service.databaseEnv.DATABASE_HOST"),
    (["DATABASE_HOST"], {}, "spec.service.databaseEnv", "must be an object"),
])
def test_wrong_database_env_names_the_field(database_env, more, field, words):
    error = error_of(with_(**{"service.databaseEnv": database_env, **more}))
    assert error.field == field and words in str(error)


@pytest.mark.parametrize(("version", "ok"), [
    ("13.14", False), ("13.15", True), ("14.12", True), ("15.6", False), ("15.7", True), ("16.2", False),
    ("16.3", True), ("16.4", True), ("17.1", True), ("12.22", False),
])
def test_auto_pause_needs_a_recent_engine(version, ok):
    assert spec.supports_auto_pause(version) is ok


@pytest.mark.parametrize(("field", "value"), [("masterUsername", "user"), ("masterUsername", "rdsadmin"),
                                              ("databaseName", "select"), ("databaseName", "template1")])
def test_names_postgresql_or_rds_reserve_are_refused_naming_the_field(field, value):
    wanted = copy.deepcopy(MINIMAL)
    wanted["database"] = {field: value}
    with pytest.raises(SpecError, match=rf"^spec\.database\.{field}: '{value}' is reserved"):
        spec.parse(wanted, "shop", "oscar")


def test_a_resource_named_like_a_key_word_gets_a_database_name_of_its_own():
    assert spec.parse(copy.deepcopy(MINIMAL), "shop", "user").database.database_name == "app_user"
