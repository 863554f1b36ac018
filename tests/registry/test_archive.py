"""An image that only an OCI layout holds goes into a Docker engine through `docker load`
(demo/fargate/archive.py), as the local task executor runs ECR images from the demo's layout: the
engine's image is the manifest's config, with the layout's files in it, and one already loaded is
not sent again."""

from __future__ import annotations

import contextlib
import io
import tarfile

import docker.errors
import docker.models.images
import pytest

from appmod_operator.demo import image as demo_image
from appmod_operator.demo.fargate import archive

pytestmark = pytest.mark.e2e


@pytest.fixture
def layout(tmp_path):
    digest = demo_image.build_demo_image(tmp_path, "shop")
    return archive.Source(f"oci:{tmp_path}", "shop", digest)


def test_a_layouts_image_is_loaded_as_its_config_with_its_files_once(dockerd, layout, monkeypatch):
    client = dockerd.client()
    config = _config_digest(layout)
    _forget(client, config)
    sent, load = [], docker.models.images.ImageCollection.load
    monkeypatch.setattr(docker.models.images.ImageCollection, "load",
                        lambda images, data: sent.append(config) or load(images, data))
    try:
        assert archive.load(client, layout).id == config
        container = client.containers.create(config, ["true"])
        try:
            stream, _ = container.get_archive(f"/{demo_image.SQLITE_PATH}")
            with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
                assert tar.extractfile(tar.getmembers()[0]).read(16) == b"SQLite format 3\x00"
        finally:
            container.remove()
        assert archive.load(client, layout).id == config
        assert sent == [config]  # the second time the engine had it: nothing sent
    finally:
        _forget(client, config)


def test_a_digest_the_layout_lacks_cannot_be_loaded(dockerd, layout):
    missing = archive.Source(layout.registry, layout.repository, "sha256:" + "0" * 64)
    with pytest.raises(archive.CannotLoad, match="sha256:0000"):
        archive.load(dockerd.client(), missing)


def _config_digest(source: archive.Source) -> str:
    from appmod_operator.registry.layout import open_registry

    return open_registry(source.registry, side="test").get_manifest(source.repository, source.digest) \
        .parsed["config"]["digest"]


def _forget(client, image_id: str) -> None:
    with contextlib.suppress(docker.errors.ImageNotFound):
        client.images.remove(image_id, force=True)
