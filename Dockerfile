# The operator image: `appmod-operator` by default, and `appmod` (e.g. `appmod migrate`, the Fargate
# data runner's command) with the entry point overridden. Two stages: the package is installed into a
# virtual environment in the first, which alone is copied onto the same base in the second.
# BASE is any Debian-like image with Python 3.11 and venv: python:3.11-slim, or the tests' debootstrap
# base (tests/infra/images.py), since nothing comes from Docker Hub there.
ARG BASE=python:3.11-slim
FROM ${BASE} AS build
# Set by builds that cannot reach the package index (the tests' build serves it a wheelhouse).
ARG PIP_FIND_LINKS
ARG PIP_NO_INDEX
COPY pyproject.toml README.md /src/
COPY operator /src/operator
RUN python3 -m venv /opt/appmod && /opt/appmod/bin/pip install --no-cache-dir /src

FROM ${BASE}
COPY --from=build /opt/appmod /opt/appmod
ENV PATH=/opt/appmod/bin:$PATH PYTHONUNBUFFERED=1
USER 10001
ENTRYPOINT ["appmod-operator"]
