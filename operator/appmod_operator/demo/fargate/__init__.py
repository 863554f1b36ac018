"""The local ECS task executor: Fargate actually running a task's containers on a Docker engine, for the
tasks moto's ECS records. `appmod demo --run-tasks` runs it beside its in-process moto (demo/tasks.py);
the tests run it inside their moto server (tests/infra/fargate/). What it does and does not stand in
for: docs/development.md#the-local-ecs-task-executor.
"""
