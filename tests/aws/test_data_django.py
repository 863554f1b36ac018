"""The operator's data step on the real Oscar shop (tests/django): `strategy: AppCommand`, with the test
running Django's own `migrate` against the cluster's database as the master user, where the one-off task
would (moto's ECS runs no container). The step reaches DataMigrated=True over the rows `migrate` wrote,
Django reads back what the shop's SQLite holds, and later passes copy nothing."""

from __future__ import annotations

import pytest

from appmod_operator.reconcile import engine, jobs
from tests.aws.test_data import first_pass, ready, resource, run_until
from tests.aws.test_database import conditions
from tests.aws.test_database import secret_value as read_secret
from tests.django import project

pytestmark = pytest.mark.e2e

APP_COMMAND = {"schema": {"strategy": "AppCommand", "command": ["python", "manage.py", "migrate", "--noinput"]},
               "data": {"enabled": True}}


def test_the_oscar_shop_migrates_over_what_djangos_migrate_wrote(postgres, boto, database_name, oscar_sqlite):
    made = resource(database_name, {"path": str(oscar_sqlite)}, APP_COMMAND)
    first_pass(made, postgres, boto, database_name)
    as_master = f"postgresql://appmod:{read_secret(boto)['password']}@127.0.0.1:{postgres.port}/{database_name}"
    project.migrate("oscar", as_master)  # the AppCommand task's work
    written = run_until(made, ready, passes=60)
    data = written[-1]["migration"]["data"]
    print(f"oscar in the operator: {data['tables']} tables, {data['rows']:,} rows, replaced {data['replaced']}")
    assert (data["tables"], data["rows"]) == (94, 17954)
    assert {"auth_group", "django_migrations", "django_site"} <= set(data["replaced"])
    assert data["refreshed"] == ["catalogue_product_category_hierarchy"]
    assert project.dumpdata("oscar", as_master) == project.dumpdata("oscar", oscar_sqlite)

    job = jobs.find_job(made["metadata"]["uid"])
    result = engine.reconcile(made)  # the next pass, and one of a restarted operator: nothing copied again
    jobs.forget(made["metadata"]["uid"])
    restarted = engine.reconcile({**made, "status": result.status})
    assert conditions(restarted.status)["DataMigrated"] == ("True", "Migrated")
    assert jobs.find_job(made["metadata"]["uid"]) is None and job.report.summary()["tables"] == 94
    assert restarted.status["migration"]["data"]["completedAt"] == data["completedAt"]
