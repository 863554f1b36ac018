"""Error classes shared by every layer; the leaf of the import graph.

A `UserError` means the reconcile cannot progress until a person changes something (it becomes
`Stalled=True` with the message), as opposed to a transient failure that is retried.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem only a change by the user can fix. `reason` is the condition reason (CamelCase)."""

    reason = "UserError"


class SpecError(UserError):
    """A spec that passed the CRD schema but is still wrong; names the offending field."""

    reason = "InvalidSpec"

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message

    def __reduce__(self):
        return type(self), (self.field, self.message)


class ConfigError(Exception):
    """A setting (environment variable or flag) that cannot be parsed; names the setting."""

    def __init__(self, setting: str, message: str):
        super().__init__(f"{setting}: {message}")
        self.setting = setting


class MigrationError(UserError):
    """The data migration cannot go on; the message says what to change. Exit code 2 on the command line."""

    reason = "MigrationFailed"


class SourceError(MigrationError):
    """The SQLite source cannot be read: missing, not SQLite, corrupt."""

    reason = "SourceUnreadable"


class TargetError(MigrationError):
    """The PostgreSQL target cannot be reached or used; never carries the password."""

    reason = "TargetUnreachable"


class TargetNotEmpty(MigrationError):
    """A target table already holds different data and --replace was not given."""

    reason = "TargetHoldsOtherData"


class UnrepresentableValue(MigrationError):
    """A source value that the target column's type cannot hold exactly."""

    reason = "UnrepresentableValue"

    def __init__(self, table: str, column: str, rowid: object, value: object, why: str):
        shown = repr(value)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        super().__init__(f"table {table!r}, column {column!r}, rowid {rowid}: value {shown} {why}")
        self.table, self.column, self.rowid, self.value, self.why = table, column, rowid, value, why

    def __reduce__(self):  # raised in worker processes, so it must survive pickling
        return type(self), (self.table, self.column, self.rowid, self.value, self.why)


class VerificationFailed(MigrationError):
    """After the copy, the target does not hold what the source holds."""

    reason = "VerificationFailed"


class NotOwned(UserError):
    """An AWS resource with our deterministic name exists but is not tagged as ours: never touched."""

    reason = "NotOwned"


class UnsafeChange(UserError):
    """A spec change that AWS cannot apply in place (it would need a new database)."""

    reason = "ChangeNotAllowed"


class AwsError(Exception):
    """An AWS call that failed, with the service's code and message (never the request's parameters).
    Built by `aws_error`, which decides whether it is terminal or worth retrying."""

    reason = "AwsRetrying"

    def __init__(self, operation: str, code: str, message: str):
        super().__init__(f"{operation}: {code}: {message}")
        self.operation, self.code, self.message = operation, code, message

    def __reduce__(self):
        return type(self), (self.operation, self.code, self.message)


class AwsTerminalError(AwsError, UserError):
    """AWS refused the request and will refuse it again until someone changes something
    (a parameter, a quota, a permission): Stalled with AWS's message."""

    reason = "AwsRequestRejected"


# Error codes that retrying cannot fix. Everything else (throttling and 5xx once botocore's adaptive
# retries are spent, a resource in a busy state, a network error) is retried later; so is S3's
# PreconditionFailed (the object changed since its ETag was read: the next pass reads the new version).
# https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/CommonErrors.html
TERMINAL_CODES = frozenset({
    "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthFailure", "OptInRequired",
    "InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch", "MissingAuthenticationToken",
    "InvalidParameterValue", "InvalidParameterCombination", "InvalidParameterException", "MissingParameter",
    "ValidationError", "ValidationException", "InvalidRequestException",
    "LimitExceededException", "DBClusterQuotaExceededFault", "InstanceQuotaExceeded", "StorageQuotaExceeded",
    "DBSubnetGroupQuotaExceeded", "DBSubnetQuotaExceededFault", "SecurityGroupLimitExceeded",
    "RulesPerSecurityGroupLimitExceeded", "SnapshotQuotaExceeded",
    "DBSubnetGroupDoesNotCoverEnoughAZs", "InvalidSubnet", "InvalidVPCNetworkStateFault",
    "InvalidGroup.NotFound", "InvalidSubnetID.NotFound", "InvalidVpcID.NotFound",
    "KMSKeyNotAccessibleFault", "StorageTypeNotSupported",
    # S3: a refused HEAD has no body, so its code is the bare status; an archived object must be restored first.
    "403", "InvalidObjectState",
})


def aws_error(operation: str, code: str, message: str) -> AwsError:
    """The one place an AWS error code is classified as terminal or retryable."""
    cls = AwsTerminalError if code in TERMINAL_CODES else AwsError
    return cls(operation, code, message)


class InternalError(Exception):
    """An exception nothing expected (a bug of ours): retried, and said as it is; never the user's to fix."""

    reason = "InternalError"

    def __init__(self, error: BaseException):
        super().__init__(f"internal error ({type(error).__name__}: {error})")


class RegistryError(Exception):
    """A registry answered with a server error, or could not be reached: worth retrying later."""

    reason = "RegistryRetrying"


class DigestMismatch(RegistryError):
    """Bytes read from a registry do not hash to the digest they were asked for (retried: the next
    attempt reads them again)."""

    reason = "DigestMismatch"


class CopyStopped(RegistryError):
    """An image copy asked to stop (the operator shutting down, the resource deleted) before it finished;
    nothing of the blob being sent was committed."""

    reason = "CopyStopped"


class ImageNotFound(UserError):
    """The image, tag or platform named by the spec does not exist at the source."""

    reason = "ImageNotFound"


class RegistryAccessDenied(UserError):
    """A registry refused our credentials; the message says which registry and which side (source or ECR)."""

    reason = "RegistryAccessDenied"


class UnsupportedImage(UserError):
    """An image the copy cannot carry over exactly (for example a Docker v2 schema 1 manifest)."""

    reason = "UnsupportedImage"


class FileNotInImage(UserError):
    """`spec.source.database.sqlite.pathInImage` names a file the image's layers do not hold."""

    reason = "FileNotInImage"


class DockerPushFailed(RegistryError):
    """The Docker engine reported an error in its pull or push stream (docker-py does not raise on those)."""

    reason = "DockerPushFailed"
