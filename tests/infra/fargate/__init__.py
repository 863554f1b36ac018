"""The tests' moto server with the local ECS task executor inside (server.py), and the ecs-tasks part
that turns it on (part.py). The executor itself is appmod_operator/demo/fargate/
(docs/development.md#the-local-ecs-task-executor)."""
