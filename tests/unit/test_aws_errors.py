"""AWS errors: classified once (terminal or retried), and never carrying request parameters."""

from __future__ import annotations

import pytest

from appmod_operator.aws import clients, rds
from appmod_operator.errors import AwsError, AwsTerminalError, UserError, aws_error


@pytest.mark.parametrize("code", ["AccessDenied", "InvalidParameterValue", "DBClusterQuotaExceededFault",
                                  "InvalidSubnetID.NotFound", "UnrecognizedClientException"])
def test_terminal_codes_are_user_errors(code):
    error = aws_error("rds.CreateDBCluster", code, "no")
    assert isinstance(error, AwsTerminalError) and isinstance(error, UserError)
    assert error.reason == "AwsRequestRejected" and str(error) == f"rds.CreateDBCluster: {code}: no"


@pytest.mark.parametrize("code", ["Throttling", "ThrottlingException", "InternalFailure", "ServiceUnavailable",
                                  "InvalidDBClusterStateFault", "SomethingNew"])
def test_other_codes_are_retried(code):
    error = aws_error("rds.ModifyDBCluster", code, "later")
    assert not isinstance(error, UserError) and error.reason == "AwsRetrying"


def test_a_request_botocore_rejects_does_not_show_its_values(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    clients.forget_clients()
    with pytest.raises(AwsError) as raised:  # botocore validates before sending: no AWS needed
        rds.create_cluster("us-east-1", {"DBClusterIdentifier": "x", "Engine": "aurora-postgresql",
                                         "MasterUserPassword": 987654321123})
    assert "987654321123" not in str(raised.value) and raised.value.code == "ParamValidationError"
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
