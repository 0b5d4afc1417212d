# The MLflow tracking server for the cluster: mlflow with the PostgreSQL (backend store) and
# S3/MinIO (artifact store) clients. `make images` builds it as textcnn-mlflow:<version>.
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS build
COPY wheelhouse/mlflow/ /wheelhouse/
COPY pyproject.toml /src/
COPY images/requirements.py /src/images/
RUN set -eu; \
    python3 /src/images/requirements.py mlflow > /tmp/requirements.txt; \
    python3 -m venv /opt/mlflow; \
    from=""; if ls /wheelhouse/*.whl >/dev/null 2>&1; then from="--no-index --find-links /wheelhouse"; fi; \
    /opt/mlflow/bin/pip install --no-cache-dir --disable-pip-version-check $from -r /tmp/requirements.txt; \
    /opt/mlflow/bin/python -c "import mlflow, psycopg2, boto3"; \
    find /opt/mlflow -name __pycache__ -prune -exec rm -rf {} +

FROM ${BASE_IMAGE}
ARG VERSION=0.0.0
ARG SOURCE=https://example.invalid/textcnn-pipeline
ARG REVISION=unknown
LABEL org.opencontainers.image.title="textcnn-mlflow" \
      org.opencontainers.image.description="MLflow tracking server with PostgreSQL and S3 clients" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /opt/mlflow /opt/mlflow
RUN useradd --uid 10001 --user-group --create-home --shell /usr/sbin/nologin mlflow
ENV PATH=/opt/mlflow/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 HOME=/home/mlflow
USER 10001:10001
EXPOSE 5000
ENTRYPOINT ["mlflow"]
CMD ["server", "--host", "0.0.0.0", "--port", "5000"]
