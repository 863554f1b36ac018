"""The SQLite file read out of an image's layers through the registry client: later layers win,
whiteouts and opaque directories delete, a missing path is a clear error, and nothing half-written stays."""

from __future__ import annotations

import pytest

from appmod_operator.errors import DigestMismatch, FileNotInImage
from appmod_operator.registry.extract import extract_file
from appmod_operator.registry.reference import Reference
from tests.registry.images import layer, push_image, push_index

pytestmark = pytest.mark.e2e
DB = "app/sandbox/db.sqlite"


def extract(source, repo, tmp_path, path=f"/{DB}", tag="v1"):
    out = tmp_path / "db.sqlite"
    manifest = extract_file(source, Reference(source.host, repo, tag, None), "linux/amd64", path, out)
    return out, manifest


def test_the_latest_layer_holding_the_file_wins(source, repo, tmp_path):
    image = push_image(source, repo, "v1", [layer({DB: b"old", "app/x": b"x"}), layer({"app/y": b"y"}),
                                            layer({f"./{DB}": b"new" * 1000})])
    out, manifest = extract(source, repo, tmp_path)
    assert out.read_bytes() == b"new" * 1000 and manifest.digest == image.digest
    assert [p.name for p in tmp_path.iterdir()] == ["db.sqlite"]  # no temporary file left


def test_a_file_in_a_lower_layer_is_found(source, repo, tmp_path):
    push_image(source, repo, "v1", [layer({DB: b"base"}), layer({"etc/other": b"o"})])
    assert extract(source, repo, tmp_path)[0].read_bytes() == b"base"


@pytest.mark.parametrize("whiteout", ["app/sandbox/.wh.db.sqlite", "app/.wh.sandbox", "app/sandbox/.wh..wh..opq"])
def test_whiteouts_delete_the_file(source, repo, tmp_path, whiteout):
    push_image(source, repo, "v1", [layer({DB: b"gone"}), layer({whiteout: b""})])
    with pytest.raises(FileNotInImage, match="deleted by a whiteout"):
        extract(source, repo, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_file_recreated_above_a_whiteout_is_found(source, repo, tmp_path):
    push_image(source, repo, "v1", [layer({DB: b"gone"}), layer({"app/sandbox/.wh.db.sqlite": b""}),
                                    layer({DB: b"again"})])
    assert extract(source, repo, tmp_path)[0].read_bytes() == b"again"


def test_a_missing_path_names_the_path_and_the_image(source, repo, tmp_path):
    push_image(source, repo, "v1", [layer({"app/other.sqlite": b"x"})])
    with pytest.raises(FileNotInImage, match=rf"/app/sandbox/db.sqlite is not in image {source.host}/{repo}:v1"):
        extract(source, repo, tmp_path)


def test_the_platform_of_an_index(source, repo, tmp_path):
    amd = push_image(source, repo, None, [layer({DB: b"amd64 data"})], platform="linux/amd64")
    arm = push_image(source, repo, None, [layer({DB: b"arm64 data"})], platform="linux/arm64")
    push_index(source, repo, "v1", {"linux/arm64": arm, "linux/amd64": amd})
    out, manifest = extract(source, repo, tmp_path)
    assert out.read_bytes() == b"amd64 data" and manifest.digest == amd.digest


def test_a_corrupted_layer_leaves_nothing(source, source_registry, repo, tmp_path):
    from pathlib import Path

    image = push_image(source, repo, "v1", [layer({DB: b"payload" * 100})])
    digest = image.layers()[0]["digest"]
    stored = next(Path(source_registry.dir).rglob(f"blobs/sha256/{digest[7:9]}/{digest[7:]}/data"))
    stored.write_bytes(stored.read_bytes() + b"trailing garbage")
    with pytest.raises(DigestMismatch):
        extract(source, repo, tmp_path)
    assert list(tmp_path.iterdir()) == []
