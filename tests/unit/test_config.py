"""Settings: flag over environment over default, and errors that name the setting."""

from __future__ import annotations

import argparse
from dataclasses import fields

import pytest

from appmod_operator import config
from appmod_operator.errors import ConfigError


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    config.add_arguments(parser)
    return parser.parse_args(argv)


def test_settings_table_covers_every_field():
    assert [s.field for s in config.SETTINGS] == [f.name for f in fields(config.Settings)]


def test_defaults():
    assert config.load(parse([]), {}) == config.Settings()
    assert config.Settings().teardown_timeout_seconds == 1800


def test_flag_beats_environment_beats_default():
    env = {"APPMOD_RESYNC_SECONDS": "30", "AWS_DEFAULT_REGION": "eu-west-1", "APPMOD_LOG_FORMAT": "JSON"}
    settings = config.load(parse(["--resync-seconds", "5"]), env)
    assert (settings.resync_seconds, settings.region, settings.log_format) == (5, "eu-west-1", "json")
    assert config.load(parse([]), {**env, "AWS_REGION": "us-east-2"}).region == "us-east-2"


def test_lists_and_host_ports():
    settings = config.load(parse([]), {"APPMOD_INSECURE_REGISTRIES": "127.0.0.1:5000, localhost:5001",
                                       "APPMOD_DATABASE_HOST": "127.0.0.1:5432", "APPMOD_METRICS_PORT": "9090"})
    assert settings.insecure_registries == ("127.0.0.1:5000", "localhost:5001")
    assert (settings.database_host, settings.metrics_port) == ("127.0.0.1:5432", 9090)


@pytest.mark.parametrize(("argv", "env", "named"), [
    ([], {"APPMOD_RESYNC_SECONDS": "soon"}, "APPMOD_RESYNC_SECONDS"),
    ([], {"APPMOD_TEARDOWN_TIMEOUT_SECONDS": "30m"}, "APPMOD_TEARDOWN_TIMEOUT_SECONDS"),
    (["--teardown-timeout-seconds", "0"], {}, "--teardown-timeout-seconds"),
    (["--resync-seconds", "0"], {}, "--resync-seconds"),
    ([], {"APPMOD_LOG_FORMAT": "xml"}, "APPMOD_LOG_FORMAT"),
    ([], {"AWS_DEFAULT_REGION": "mars"}, "AWS_DEFAULT_REGION"),
    ([], {"APPMOD_DATABASE_HOST": "nohost"}, "APPMOD_DATABASE_HOST"),
    ([], {"APPMOD_METRICS_PORT": "70000"}, "APPMOD_METRICS_PORT"),
    (["--ecr-registry", "ftp://x"], {}, "--ecr-registry"),
])
def test_unparseable_values_name_the_setting(argv, env, named):
    with pytest.raises(ConfigError) as caught:
        config.load(parse(argv), env)
    assert caught.value.setting == named and str(caught.value).startswith(named)


def test_a_plain_http_ecr_registry_must_be_listed_as_insecure():
    with pytest.raises(ConfigError, match=r"^APPMOD_ECR_REGISTRY: http://127.0.0.1:5000 is plain HTTP: list 127"):
        config.load(parse([]), {"APPMOD_ECR_REGISTRY": "http://127.0.0.1:5000"})
    with pytest.raises(ConfigError, match=r"^--ecr-registry: "):
        config.load(parse(["--ecr-registry", "http://127.0.0.1:5000"]), {})
    listed = config.load(parse([]), {"APPMOD_ECR_REGISTRY": "http://127.0.0.1:5000",
                                     "APPMOD_INSECURE_REGISTRIES": "127.0.0.1:5000"})
    assert listed.ecr_registry == "http://127.0.0.1:5000"
    assert config.load(parse([]), {"APPMOD_ECR_REGISTRY": "https://mirror.example"}).ecr_registry
