"""The operator's image, built from the repository's Dockerfile on the tests' debootstrap base (the
operator-image part): both of its commands run on a read-only root filesystem as the non-root user it
declares, and it carries no compiler and no pip. Prints its size."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def image(dockerd, operator_image_part):
    return dockerd.client().images.get(operator_image_part.reference)


def run(dockerd, image, *command: str, entrypoint: list[str] | None = None) -> str:
    """The command in the image as Kubernetes runs it with the chart: read-only, /tmp a tmpfs, no network."""
    output = dockerd.client().containers.run(image.id, list(command), entrypoint=entrypoint, read_only=True,
                                             tmpfs={"/tmp": ""}, network_mode="none", remove=True, stderr=True)
    return output.decode()


def test_the_image_declares_a_numeric_non_root_user_and_the_operator_as_entry_point(image):
    config = image.attrs["Config"]
    assert config["User"] == "10001:10001"
    assert config["Entrypoint"] == ["appmod-operator"] and "8080/tcp" in config["ExposedPorts"]
    assert "TMPDIR=/tmp" in config["Env"] and config["Healthcheck"]["Test"][0] == "CMD"


def test_both_commands_run_read_only(dockerd, image):
    assert "usage: appmod-operator" in run(dockerd, image, "--help")
    assert "usage: appmod" in run(dockerd, image, "--help", entrypoint=["appmod"])
    assert "usage: appmod migrate" in run(dockerd, image, "migrate", "--help", entrypoint=["appmod"])


def test_no_compiler_and_no_pip_in_the_final_image(dockerd, image):
    probe = ("import shutil, importlib.util; print(sorted(c for c in ('gcc', 'cc', 'c++', 'make', 'pip', 'pip3') "
             "if shutil.which(c)), importlib.util.find_spec('pip') is not None)")
    assert run(dockerd, image, "-c", probe, entrypoint=["python3"]).strip() == "[] False"
    size = image.attrs["Size"]
    print(f"operator image: {size / 1e6:.0f} MB ({len(image.history())} layers)")
    assert size < 450e6  # a slim base and the venv; a compiler or a wheel cache would show here
