"""The migration markers kept on the Aurora cluster as tags (reconcile/markers.py): what a step writes is
what a later run without a status reads back, and every value is one RDS accepts as a tag."""

from __future__ import annotations

import re

from appmod_operator.reconcile import markers

# RDS tag values: https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_Tagging.html
TAG_VALUE = re.compile(r"^[\w\s.:/=+\-@]{0,256}$")
DIGEST = "sha256:" + "ab" * 32
DATA = {"tables": 94, "rows": 17954, "bytes": 2_345_678, "checksum": "fb866f84d3cabf35", "sourceDigest": DIGEST,
        "completedAt": "2026-12-01T18:00:00Z"}


def test_data_markers_read_back_as_the_status_part():
    written = markers.build_data_markers(DATA)
    assert all(TAG_VALUE.match(v) for v in written.values()), written
    assert markers.read_data(written, DIGEST) == DATA
    assert markers.read_data(written, "sha256:" + "cd" * 32) is None  # another source version: not migrated
    assert markers.read_data({}, DIGEST) is None


def test_a_remigrate_value_is_honoured_only_once_recorded_and_kept_tag_safe():
    plain = markers.build_data_markers({**DATA, "remigrate": "2026-12-01"})
    assert markers.read_data(plain, DIGEST, "2026-12-01")["remigrate"] == "2026-12-01"
    assert markers.read_data(plain, DIGEST, "again") is None
    odd = "run it again, please!"  # ',' and '!' are not allowed in a tag value
    hashed = markers.build_data_markers({**DATA, "remigrate": odd})
    assert TAG_VALUE.match(hashed[markers.DATA_REMIGRATE]) and hashed[markers.DATA_REMIGRATE] != odd
    assert markers.read_data(hashed, DIGEST, odd) is not None


def test_schema_markers_read_back_for_the_same_image_only():
    schema = {"strategy": "AppCommand", "taskArn": "arn:aws:ecs:us-east-2:123456789012:task/appmod/0123abcd",
              "completedAt": "2026-12-01T18:00:00Z"}
    written = markers.build_schema_markers(schema, DIGEST)
    assert all(TAG_VALUE.match(v) for v in written.values()), written
    assert markers.read_schema(written, DIGEST) == schema
    assert markers.read_schema(written, "sha256:" + "cd" * 32) is None


def test_only_our_marker_tags_are_markers():
    cluster = {"TagList": [{"Key": "appmod.io/owner", "Value": "shop/oscar"}, {"Key": "team", "Value": "web"},
                           {"Key": markers.DATA_VERSION, "Value": DIGEST}]}
    assert markers.from_cluster(cluster) == {markers.DATA_VERSION: DIGEST}
