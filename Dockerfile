# The operator image: `appmod-operator` by default, and `appmod` (e.g. `appmod migrate`, the Fargate
# data runner's command) with the entry point overridden. Three stages: the package and its dependencies
# are built as wheels, installed from those wheels alone into a virtual environment, and only that
# environment is copied onto a clean base: no compiler, no pip, no wheel cache in the final image.
# BASE is any Debian-like image with Python 3.11 and venv: python:3.11-slim, or the tests' debootstrap
# base (tests/infra/images.py), since nothing comes from Docker Hub there.
ARG BASE=python:3.11-slim

FROM ${BASE} AS build
# Set by builds that cannot reach the package index (the tests' build serves it a wheelhouse).
ARG PIP_FIND_LINKS
ARG PIP_NO_INDEX
COPY pyproject.toml README.md /src/
COPY operator /src/operator
RUN python3 -m venv /build && /build/bin/pip wheel --no-cache-dir --wheel-dir /wheels /src

FROM ${BASE} AS install
COPY --from=build /wheels /wheels
RUN python3 -m venv /opt/appmod \
    && /opt/appmod/bin/pip install --no-cache-dir --no-index --find-links /wheels appmod-operator \
    && /opt/appmod/bin/pip uninstall --yes --quiet pip

FROM ${BASE}
# A passwd entry for the user, for whatever asks who it runs as.
RUN groupadd --system --gid 10001 appmod \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin appmod
COPY --from=install /opt/appmod /opt/appmod
# TMPDIR: the root filesystem may be read-only (the chart mounts an emptyDir at /tmp); bytecode was
# compiled at install, so nothing needs to write next to the code.
ENV PATH=/opt/appmod/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 TMPDIR=/tmp
USER 10001:10001
# The liveness endpoint (`--liveness`, default http://0.0.0.0:8080/healthz), also the container health
# check on ECS (appmod deploy-operator) and here.
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
ENTRYPOINT ["appmod-operator"]
