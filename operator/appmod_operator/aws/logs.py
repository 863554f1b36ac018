"""CloudWatch Logs log groups: thin calls to the CloudWatch Logs API, for the log group the ECS
service's containers write to, and for reading back what a one-off task logged.

`find_*` returns the AWS description or None when absent; the rest make one call each. What the log
group should look like is decided by reconcile/execution.py, which calls this module.
"""

from __future__ import annotations

from collections.abc import Mapping

from appmod_operator.aws import clients
from appmod_operator.aws.clients import translated


def _logs(region: str | None):
    return clients.client("logs", region)


@translated("logs.DescribeLogGroups")
def find_log_group(region: str | None, name: str) -> dict | None:
    """logGroupName, logGroupArn, retentionInDays (absent: kept forever); None if absent. The
    description carries no tags: see `find_tags`. DescribeLogGroups filters by prefix only and sorts by
    name (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_DescribeLogGroups.html),
    so the exact name, which sorts before every longer name it prefixes, is on the first page."""
    found = _logs(region).describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    return next((g for g in found if g["logGroupName"] == name), None)


@translated("logs.CreateLogGroup")
def create_log_group(region: str | None, name: str, tags: Mapping[str, str]) -> None:
    _logs(region).create_log_group(logGroupName=name, tags=dict(tags))


@translated("logs.PutRetentionPolicy")
def put_retention(region: str | None, name: str, days: int) -> None:
    _logs(region).put_retention_policy(logGroupName=name, retentionInDays=days)


@translated("logs.GetLogEvents")
def read_last_messages(region: str | None, group: str, stream: str, limit: int) -> list[str]:
    """The last `limit` messages of a stream, oldest first; [] when the stream does not exist (yet)."""
    with clients.tolerating("ResourceNotFoundException"):
        events = _logs(region).get_log_events(logGroupName=group, logStreamName=stream, limit=limit,
                                              startFromHead=False)["events"]
        return [e["message"] for e in events]
    return []


@translated("logs.ListTagsForResource")
def find_tags(region: str | None, arn: str) -> dict[str, str]:
    """The tags of the log group with this `logGroupArn` (the ARN without the trailing ":*" that the
    older `arn` field carries: https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_LogGroup.html)."""
    return _logs(region).list_tags_for_resource(resourceArn=arn)["tags"]


@translated("logs.TagResource")
def tag(region: str | None, arn: str, tags: Mapping[str, str]) -> None:
    _logs(region).tag_resource(resourceArn=arn, tags=dict(tags))


@translated("logs.DeleteLogGroup")
def delete_log_group(region: str | None, name: str) -> None:
    """Deletes the log group and its log events; one already absent is fine."""
    with clients.tolerating("ResourceNotFoundException"):
        _logs(region).delete_log_group(logGroupName=name)
