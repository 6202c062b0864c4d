# syntax=docker/dockerfile:1
# The Konsort node image: `docker compose build` (docs/deployment.md), or
# `docker build -t konsort:local .`. tests/deploy/ checks this file's shape and
# runs the same install and start commands as local processes.

# -- builder: compilers live only here, for any dependency without a wheel ----------
FROM python:3.11-slim AS builder
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/konsort
ENV PATH=/opt/konsort/bin:$PATH \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY node ./node
COPY protocol ./protocol
COPY admin_ui ./admin_ui
RUN pip install --no-cache-dir '.[postgres]'

# -- runtime: the same slim base, the installed virtualenv, no compilers ------------
FROM python:3.11-slim
RUN useradd --system --uid 10001 --user-group --no-create-home \
        --home-dir /var/lib/konsort --shell /usr/sbin/nologin konsort \
    && install -d -o konsort -g konsort -m 0700 \
        /var/lib/konsort /var/lib/konsort-consortium /var/lib/konsort-steward
COPY --from=builder /opt/konsort /opt/konsort
ENV PATH=/opt/konsort/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    KONSORT_DATA_DIR=/var/lib/konsort \
    KONSORT_HOST=0.0.0.0 \
    KONSORT_PORT=8000
USER konsort
WORKDIR /var/lib/konsort
# Keys and konsort.toml; the database is PostgreSQL's own volume (docker-compose.yml).
VOLUME ["/var/lib/konsort"]
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=6s --start-period=30s --retries=3 \
    CMD ["konsort", "container", "healthcheck"]
ENTRYPOINT ["konsort"]
CMD ["container", "serve", "--consortium-dir", "/var/lib/konsort-consortium"]
