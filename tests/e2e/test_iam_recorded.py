"""Every AWS call our code made in this whole run (the AWS step tests, the command line, the operators of
the e2e tests, `appmod migrate` in its task), as the tests' moto server recorded them by the operator's
User-Agent, is allowed by manifests/iam-policy.json, and is one the scan of aws/ knows (tests/iam.py),
so tests/unit/test_iam_policy.py's "grants nothing the code never calls" rests on the calls really made.
Runs last (marker `last`); it needs the AWS and e2e tests in the same run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import iam

pytestmark = [pytest.mark.e2e, pytest.mark.last]


def test_every_aws_call_of_the_run_is_allowed_by_the_policy(moto_server, request):
    ran = {Path(str(item.path)).relative_to(iam.ROOT).parts[1] for item in request.session.items}
    if not {"aws", "e2e"} <= ran:
        pytest.skip("the AWS and e2e tests did not run in this session: nothing to look at")
    recorded = {iam.RENAMED.get(a, a): n for a, n in moto_server.actions().items()}
    policy, known = iam.policy(), iam.code_actions()
    print(f"IAM: {len(recorded)} actions in {sum(recorded.values())} calls recorded; "
          f"never made in this run: {sorted(known - set(recorded))}")
    assert len(recorded) > 40, recorded
    assert sorted(a for a in recorded if not iam.allows(policy, a)) == []
    assert sorted(set(recorded) - known) == []
