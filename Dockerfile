# syntax=docker/dockerfile:1
# The image of every service: one Dockerfile, the service chosen by a build argument.
# Build context: the repository root.
#   docker build --build-arg SERVICE=trading -t marketplace-trading .
# compose: `build: {context: ., args: {SERVICE: trading}}`; Kubernetes: README
# "Deploying on Kubernetes". SERVICE is auth, trading or auction.

ARG PYTHON_IMAGE=python:3.12-slim

# ---- builder: uv installs the service and servicekit from the workspace into /app/.venv ----
FROM ${PYTHON_IMAGE} AS builder

ARG SERVICE
RUN case "${SERVICE}" in auth|trading|auction) ;; \
      *) echo "build with --build-arg SERVICE=auth|trading|auction (got '${SERVICE}')" >&2; exit 1 ;; \
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
RUN uv sync --frozen --no-dev --package "${SERVICE}-service" --no-install-workspace

# Then the two workspace packages. They stay at the same paths in the runtime image, so the
# (editable) install keeps alembic.ini and migrations/ next to the package, where main.py
# and alembic look for them.
COPY shared/servicekit shared/servicekit
COPY services/${SERVICE}/alembic.ini services/${SERVICE}/alembic.ini
COPY services/${SERVICE}/migrations services/${SERVICE}/migrations
COPY services/${SERVICE}/${SERVICE}_service services/${SERVICE}/${SERVICE}_service
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
    WEB_CONCURRENCY=2

# The numeric uid/gid (10001) is what Kubernetes' runAsUser/runAsGroup name (deploy/k8s).
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home --shell /usr/sbin/nologin app

# Owned by root and read-only to the service user: the code cannot be rewritten at runtime.
COPY --from=builder /app /app

WORKDIR /app/services/${SERVICE}
USER 10001:10001
EXPOSE 8000

HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=5 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=3)"]

# Migrate, then serve; `exec` makes uvicorn PID 1 so it receives SIGTERM and drains. uvicorn
# starts WEB_CONCURRENCY worker processes (one per core the container gets; README
# "Production concurrency"), each with its own database pools. Kubernetes runs the two halves
# separately: the migration Job and the Deployment's command (deploy/k8s/base/<service>.yaml).
CMD ["sh", "-c", "alembic -c alembic.ini upgrade head && exec uvicorn ${SERVICE}_service.main:create_app --factory --host 0.0.0.0 --port 8000 --proxy-headers"]
