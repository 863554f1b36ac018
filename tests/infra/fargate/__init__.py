"""The local ECS task executor: Fargate actually running a task's containers, on the test dockerd, for
the tasks moto's ECS records (docs/development.md#the-local-ecs-task-executor)."""
