# The operator image: the package and its console scripts on a slim Python, running as a non-root user.
FROM python:3.11-slim
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator ./operator
RUN pip install --no-cache-dir . && rm -rf /src
WORKDIR /
USER 10001
ENTRYPOINT ["appmod-operator"]
