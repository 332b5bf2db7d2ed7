"""deploy/k8s checked without a cluster or Docker, as tests/test_compose.py checks compose.

The example overlay is rendered in Python (devstack.manifests.kustomize_build, which refuses
any kustomize feature it does not implement). Then:

- every built-in resource is validated against the Kubernetes OpenAPI schemas shipped by
  kubernetes-validate, in strict mode (unknown fields are errors), for the oldest and the
  newest Kubernetes version it ships that we support;
- the CloudNativePG `Cluster` and the Traefik `IngressRoute`, `Middleware` and
  `ServersTransport` are checked by their required fields and known field names: no PyPI
  package ships their CRD schemas. KNOWN_FIELDS lists, per object path, the fields these
  manifests use, each checked against the CRDs when written (Traefik v3.7's
  kubernetes-crd-definition-v1.yml, CloudNativePG 1.30's postgresql.cnpg.io_clusters.yaml);
  a field not in it fails until someone checks it in the CRD and adds it;
- the routes, middlewares and transport agree with gateway/dynamic.yml; the environment
  agrees with docker-compose.yml, the launcher and each Settings class; the probes point at
  the services' real health routes and port; the pods run as the image's user, non-root,
  read-only, without capabilities; capacity figures (workers, connections) hold together;
- each migration Job's command, then each Deployment's, runs as a process with only the
  environment the manifests give the pod, against real PostgreSQL, until /readyz is 200.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import kubernetes_validate
import pytest

from devstack.manifests import (
    AUX_DOCKERFILE,
    DOCKERFILE,
    K8S_DIR,
    REPO_ROOT,
    KustomizeError,
    Manifest,
    compose_env,
    containers,
    dockerfile_steps,
    image_command,
    image_halves,
    kustomize_build,
    launcher_env_names,
    merge,
    settings_fields,
)
from devstack.stack import SERVICES, Ports
from devstack.testing import PgCluster

BASE = K8S_DIR / "base"
EXAMPLE = K8S_DIR / "overlays" / "example"
NAMESPACE = "marketplace"
UVICORN_ENV = {"WEB_CONCURRENCY"}  # read by uvicorn itself, not by the Settings
# The oldest Kubernetes these manifests are meant for (policy/v1, autoscaling/v2 and
# restricted Pod Security are older) and the newest schemas kubernetes-validate ships.
KUBERNETES_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
BUILTIN_KINDS = {
    "Namespace",
    "ConfigMap",
    "Deployment",
    "Service",
    "PodDisruptionBudget",
    "HorizontalPodAutoscaler",
    "Job",
}
CUSTOM_KINDS = {
    ("postgresql.cnpg.io/v1", "Cluster"),
    ("traefik.io/v1alpha1", "IngressRoute"),
    ("traefik.io/v1alpha1", "Middleware"),
    ("traefik.io/v1alpha1", "ServersTransport"),
}
TOP_LEVEL = {"apiVersion", "kind", "metadata", "spec"}
# path -> (required fields, known fields); `*` marks a free-form map (no names to check).
KNOWN_FIELDS: dict[str, tuple[set[str], set[str] | None]] = {
    "Cluster": (TOP_LEVEL, TOP_LEVEL),
    "Cluster.spec": (
        {"instances", "storage", "bootstrap"},
        {
            "instances",
            "imageName",
            "primaryUpdateStrategy",
            "postgresql",
            "bootstrap",
            "storage",
            "resources",
            "affinity",
        },
    ),
    "Cluster.spec.postgresql": (set(), {"parameters"}),
    "Cluster.spec.postgresql.parameters": (set(), None),
    "Cluster.spec.bootstrap": ({"initdb"}, {"initdb"}),
    "Cluster.spec.bootstrap.initdb": ({"database", "owner"}, {"database", "owner"}),
    "Cluster.spec.storage": ({"size"}, {"size", "storageClass"}),
    "Cluster.spec.resources": (set(), {"requests", "limits"}),
    "Cluster.spec.resources.requests": (set(), {"cpu", "memory"}),
    "Cluster.spec.resources.limits": (set(), {"cpu", "memory"}),
    "Cluster.spec.affinity": (set(), {"enablePodAntiAffinity", "topologyKey"}),
    "IngressRoute": (TOP_LEVEL, TOP_LEVEL),
    "IngressRoute.spec": ({"routes"}, {"entryPoints", "routes"}),
    "IngressRoute.spec.routes[]": (
        {"match", "kind", "services"},
        {"match", "kind", "priority", "middlewares", "services"},
    ),
    "IngressRoute.spec.routes[].middlewares[]": ({"name"}, {"name"}),
    "IngressRoute.spec.routes[].services[]": (
        {"name", "port"},
        {"name", "port", "serversTransport"},
    ),
    "Middleware": (TOP_LEVEL, TOP_LEVEL),
    "Middleware.spec": (
        set(),
        {"headers", "buffering", "rateLimit", "retry", "errors", "replacePath"},
    ),
    "Middleware.spec.replacePath": ({"path"}, {"path"}),
    "Middleware.spec.headers": (
        set(),
        {
            "frameDeny",
            "contentTypeNosniff",
            "referrerPolicy",
            "contentSecurityPolicy",
            "permissionsPolicy",
            "customResponseHeaders",
            "stsSeconds",
            "stsIncludeSubdomains",
        },
    ),
    "Middleware.spec.headers.customResponseHeaders": (set(), None),
    "Middleware.spec.buffering": (set(), {"maxRequestBodyBytes", "memRequestBodyBytes"}),
    "Middleware.spec.rateLimit": (set(), {"average", "burst", "period"}),
    "Middleware.spec.retry": ({"attempts"}, {"attempts", "initialInterval"}),
    "Middleware.spec.errors": (
        {"status", "service", "query"},
        {"status", "statusRewrites", "service", "query"},
    ),
    "Middleware.spec.errors.statusRewrites": (set(), None),
    "Middleware.spec.errors.service": ({"name", "port"}, {"name", "port"}),
    "ServersTransport": (TOP_LEVEL, TOP_LEVEL),
    "ServersTransport.spec": (set(), {"forwardingTimeouts", "maxIdleConnsPerHost"}),
    "ServersTransport.spec.forwardingTimeouts": (
        set(),
        {"dialTimeout", "responseHeaderTimeout", "idleConnTimeout"},
    ),
}


@pytest.fixture(scope="module")
def base() -> list[Manifest]:
    return kustomize_build(BASE)


@pytest.fixture(scope="module")
def example() -> list[Manifest]:
    return kustomize_build(EXAMPLE)


def _of_kind(objects: list[Manifest], kind: str) -> dict[str, Manifest]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def _container(objects: list[Manifest], kind: str, name: str) -> dict[str, Any]:
    spec: dict[str, Any] = _of_kind(objects, kind)[name]["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    result: dict[str, Any] = container
    return result


def _env_names(container: dict[str, Any]) -> set[str]:
    return {e["name"] for e in container.get("env", [])}


def _pod_specs(objects: list[Manifest]) -> Iterator[tuple[str, dict[str, Any]]]:
    for obj in objects:
        if obj["kind"] in ("Deployment", "Job"):
            yield f"{obj['kind']}/{obj['metadata']['name']}", obj["spec"]["template"]["spec"]


# ---- rendering ----


def test_example_overlay_is_the_base_with_its_images_replicas_and_config(
    base: list[Manifest], example: list[Manifest]
) -> None:
    assert [(o["kind"], o["metadata"]["name"]) for o in example] == [
        (o["kind"], o["metadata"]["name"]) for o in base
    ]
    for obj in example:
        if obj["kind"] == "Namespace":
            assert obj["metadata"]["name"] == NAMESPACE
        else:
            assert obj["metadata"]["namespace"] == NAMESPACE, obj["metadata"]["name"]
    images = {c["image"] for obj in example for c in containers(obj)}
    assert images == {
        f"registry.example.com/marketplace/{name}:1.0.0"
        for name in (*SERVICES, "web", "gateway-aux")
    }
    replicas = {n: d["spec"]["replicas"] for n, d in _of_kind(example, "Deployment").items()}
    assert replicas == {"auth": 2, "trading": 3, "auction": 2, "web": 2, "gateway-aux": 2}
    config = _of_kind(example, "ConfigMap")["marketplace-config"]["data"]
    base_config = _of_kind(base, "ConfigMap")["marketplace-config"]["data"]
    assert config["JWT_ISSUER"] == "https://trade.example.org/auth"
    assert config["ALLOWED_ORIGINS"] == '["https://trade.example.org"]'
    assert config["JWKS_URL"] == base_config["JWKS_URL"]  # untouched keys stay
    assert set(config) == set(base_config)
    # Nothing else differs.
    unchanged = [o for o in example if o["kind"] not in ("Deployment", "Job", "ConfigMap")]
    assert unchanged == [o for o in base if o["kind"] not in ("Deployment", "Job", "ConfigMap")]


def test_renderer_merges_named_lists_and_refuses_what_it_does_not_implement(
    tmp_path: Path,
) -> None:
    pod = {"containers": [{"name": "a", "image": "x:1", "env": [{"name": "A", "value": "1"}]}]}
    change = {"containers": [{"name": "a", "env": [{"name": "B", "value": "2"}]}]}
    assert merge(pod, change) == {
        "containers": [
            {
                "name": "a",
                "image": "x:1",
                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
            }
        ]
    }
    assert merge({"args": ["a", "b"]}, {"args": ["c"]}) == {"args": ["c"]}  # replaced
    (tmp_path / "kustomization.yaml").write_text(
        "resources: []\ncommonLabels: {team: x}\n"  # a label transformer: not implemented
    )
    with pytest.raises(KustomizeError, match="commonLabels"):
        kustomize_build(tmp_path)


# ---- schemas ----


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_builtin_resources_are_valid_against_the_kubernetes_schemas(
    example: list[Manifest], version: str
) -> None:
    kinds = {o["kind"] for o in example if (o["apiVersion"], o["kind"]) not in CUSTOM_KINDS}
    assert kinds == BUILTIN_KINDS
    assert {(o["apiVersion"], o["kind"]) for o in example} - {
        (o["apiVersion"], o["kind"]) for o in example if o["kind"] in BUILTIN_KINDS
    } == CUSTOM_KINDS
    for obj in example:
        if obj["kind"] in BUILTIN_KINDS:
            kubernetes_validate.validate(obj, version, strict=True)


def test_a_wrong_field_fails_the_schema_check(example: list[Manifest]) -> None:
    """The check above is not vacuous: strict mode refuses a misspelt field."""
    deployment = merge(
        _of_kind(example, "Deployment")["auth"],
        {"spec": {"template": {"spec": {"containers": [{"name": "auth", "readOnlyRoot": 1}]}}}},
    )
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[-1], strict=True)


def _field_problems(value: Any, path: str) -> list[str]:
    if isinstance(value, list):
        return [p for item in value for p in _field_problems(item, f"{path}[]")]
    if not isinstance(value, dict) or path not in KNOWN_FIELDS:
        return []
    required, known = KNOWN_FIELDS[path]
    problems = [f"{path}: {name} is required" for name in sorted(required - set(value))]
    if known is None:
        return problems
    problems += [f"{path}: {name} is not a known field" for name in sorted(set(value) - known)]
    for name, item in value.items():
        problems += _field_problems(item, f"{path}.{name}")
    return problems


def test_custom_resources_have_their_required_and_known_fields(example: list[Manifest]) -> None:
    checked = 0
    for obj in example:
        if (obj["apiVersion"], obj["kind"]) in CUSTOM_KINDS:
            assert _field_problems(obj, obj["kind"]) == []
            checked += 1
    assert checked == 3 + 14 + 1 + 1  # clusters, middlewares, transport, the IngressRoute
    # The checker finds a misspelt field.
    cluster = merge(_of_kind(example, "Cluster")["auth-db"], {"spec": {"instance": 3}})
    assert _field_problems(cluster, "Cluster") == ["Cluster.spec: instance is not a known field"]


# ---- the gateway: the same rules as gateway/dynamic.yml ----

SERVICE_PORTS = {"auth": 8000, "trading": 8000, "auction": 8000, "web": 8000, "gateway-aux": 8081}


def test_routes_agree_with_the_dynamic_file(
    example: list[Manifest], dynamic: dict[str, Any]
) -> None:
    (route,) = _of_kind(example, "IngressRoute").values()
    assert route["spec"]["entryPoints"] == ["web"]
    transport = next(iter(dynamic["http"]["serversTransports"]))
    expected = [
        {
            "match": router["rule"],
            "kind": "Rule",
            "priority": router["priority"],
            "middlewares": [{"name": m} for m in router["middlewares"]],
            "services": [
                {
                    "name": router["service"],
                    "port": SERVICE_PORTS[router["service"]],
                    "serversTransport": transport,
                }
            ],
        }
        for router in dynamic["http"]["routers"].values()
    ]
    assert route["spec"]["routes"] == expected
    # Every route's service is a Service of the manifests, on the port it names.
    services = _of_kind(example, "Service")
    for name, port in SERVICE_PORTS.items():
        assert [p["port"] for p in services[name]["spec"]["ports"]] == [port]
    middlewares = _of_kind(example, "Middleware")
    used = {m["name"] for r in route["spec"]["routes"] for m in r["middlewares"]}
    assert used == set(middlewares)


def _rendered(value: Any) -> Any:
    """A dynamic-file value with its env template at the default (the launcher's figure)."""
    if isinstance(value, str):
        found = re.fullmatch(r'\{\{ env "[A-Z_]+" \| default "([^"]*)" \}\}', value)
        if found:
            return int(found.group(1)) if found.group(1).isdigit() else found.group(1)
    return value


def test_middlewares_and_transport_agree_with_the_dynamic_file(
    example: list[Manifest], dynamic: dict[str, Any]
) -> None:
    middlewares = _of_kind(example, "Middleware")
    assert set(middlewares) == set(dynamic["http"]["middlewares"])
    for name, spec in dynamic["http"]["middlewares"].items():
        ((kind, body),) = spec.items()
        expected = {key: _rendered(value) for key, value in body.items()}
        if kind == "errors":  # a Kubernetes Service instead of a file-provider service name
            expected["service"] = {
                "name": body["service"],
                "port": SERVICE_PORTS[body["service"]],
            }
        assert middlewares[name]["spec"] == {kind: expected}, name
    # The figures the README states: 1 MiB, 256 MiB for the import, 10/s burst 20, 3 tries.
    assert middlewares["body-limit"]["spec"]["buffering"]["maxRequestBodyBytes"] == 1 << 20
    candles = middlewares["candle-import-body-limit"]["spec"]["buffering"]
    assert candles["maxRequestBodyBytes"] == 256 << 20
    rate = middlewares["auth-rate-limit"]["spec"]["rateLimit"]
    assert (rate["average"], rate["burst"], rate["period"]) == (10, 20, "1s")
    assert middlewares["retry-idempotent"]["spec"]["retry"]["attempts"] == 3
    ((name, transport),) = dynamic["http"]["serversTransports"].items()
    assert _of_kind(example, "ServersTransport")[name]["spec"] == transport


# ---- environment: the same names as compose, the launcher and the Settings ----


@pytest.mark.parametrize("name", SERVICES)
def test_env_names_are_settings_fields_and_cover_compose_and_the_launcher(
    example: list[Manifest],
    compose: dict[str, Any],
    name: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    prefix = f"{name.upper()}_"
    env = _env_names(_container(example, "Deployment", name))
    fields = settings_fields(name)
    for key in env - UVICORN_ENV:
        assert key.startswith(prefix), f"{name}: {key} lacks the {prefix} prefix"
        assert key[len(prefix) :].lower() in fields, f"{name}: {key} is not a Settings field"
    compose_names = set(compose_env(compose["services"][name]))
    assert compose_names <= env, compose_names - env
    for key in list(os.environ):
        if key.startswith(prefix):
            monkeypatch.delenv(key)
    launcher = launcher_env_names(name, tmp_path)
    assert launcher <= env, launcher - env
    # The migration Job reads the same database as the pods, from the same secret.
    job = _container(example, "Job", f"{name}-migrate")
    (job_env,) = job["env"]
    pod_env = {e["name"]: e for e in _container(example, "Deployment", name)["env"]}
    assert job_env == pod_env[f"{prefix}DATABASE_URL"]


def test_shared_settings_come_from_one_configmap_key(example: list[Manifest]) -> None:
    """Issuer, audience, JWKS address and origins are the same for the three services, as the
    launcher and compose make them."""
    config = _of_kind(example, "ConfigMap")["marketplace-config"]["data"]
    sources: dict[str, set[str]] = {}
    for name in SERVICES:
        for entry in _container(example, "Deployment", name)["env"]:
            ref = entry.get("valueFrom", {}).get("configMapKeyRef")
            if ref:
                assert ref["name"] == "marketplace-config"
                assert ref["key"] in config, ref
                setting = entry["name"].split("_", 1)[1]
                sources.setdefault(setting, set()).add(ref["key"])
    for setting in ("JWT_ISSUER", "JWT_AUDIENCE", "JWKS_URL", "ALLOWED_ORIGINS"):
        assert sources[setting] == {setting}
    assert config["JWKS_URL"] == "http://auth:8000/auth/.well-known/jwks.json"
    assert config["JWT_ISSUER"].endswith("/auth")


def _created_secrets(readme: str) -> dict[str, set[str]]:
    """`kubectl create secret generic NAME --from-literal=KEY=... --from-file=KEY=...`"""
    secrets: dict[str, set[str]] = {}
    for command in re.findall(r"kubectl[^\n]*create secret generic(?:[^\n]*\\\n)*[^\n]*", readme):
        words = shlex.split(command.replace("\\\n", " "))
        name = words[words.index("generic") + 1]
        keys = {
            w.split("=", 2)[1] for w in words if w.startswith(("--from-literal=", "--from-file="))
        }
        secrets.setdefault(name, set()).update(keys)
    return secrets


def test_every_secret_is_generated_by_cnpg_or_created_as_the_readme_says(
    example: list[Manifest],
) -> None:
    assert not _of_kind(example, "Secret"), "no secret values in the manifests"
    for path in K8S_DIR.rglob("*.yaml"):
        assert "PRIVATE KEY" not in path.read_text(), path
    created = _created_secrets((REPO_ROOT / "README.md").read_text())
    clusters = _of_kind(example, "Cluster")
    refs = [
        (env["name"], env["valueFrom"]["secretKeyRef"])
        for obj in example
        for container in containers(obj)
        for env in container.get("env", [])
        if "secretKeyRef" in env.get("valueFrom", {})
    ]
    assert refs
    for env_name, ref in refs:
        if ref["name"].endswith("-db-app"):  # CloudNativePG's `<cluster>-app`
            service = ref["name"].removesuffix("-db-app")
            assert env_name == f"{service.upper()}_DATABASE_URL"
            assert ref["key"] == "uri"
            initdb = clusters[f"{service}-db"]["spec"]["bootstrap"]["initdb"]
            assert initdb == {"database": service, "owner": service}
        else:
            assert ref["key"] in created.get(ref["name"], set()), (env_name, ref, created)
    # The admin password is required (like compose's ADMIN_PASSWORD); the keys are optional
    # (auth generates one and keeps it in its database).
    optional = {env_name: ref.get("optional", False) for env_name, ref in refs}
    assert optional["AUTH_ADMIN_PASSWORD"] is False
    assert optional["AUTH_SIGNING_KEY"] is True


def test_gateway_aux_checks_the_services_compose_names(
    example: list[Manifest], compose: dict[str, Any]
) -> None:
    env = {e["name"]: e["value"] for e in _container(example, "Deployment", "gateway-aux")["env"]}
    assert env == compose_env(compose["services"]["gateway-aux"])


# ---- probes, commands, ports ----


@pytest.mark.parametrize("name", SERVICES)
def test_commands_are_the_two_halves_of_the_image_command(
    example: list[Manifest], name: str
) -> None:
    migrate, serve = image_halves(name)
    job = _container(example, "Job", f"{name}-migrate")
    assert " ".join(job["command"]) == migrate
    deployment = _of_kind(example, "Deployment")[name]["spec"]["template"]["spec"]
    container = _container(example, "Deployment", name)
    assert " ".join(container["command"]) == f"{serve} --timeout-graceful-shutdown 20"
    # The pod outlives the endpoint removal (preStop), the service's drain (/readyz 503 while
    # serving) and uvicorn's graceful shutdown, with 5 s to spare: 5 + 3 + 20 + 5 <= 35.
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    settings = importlib.import_module(f"{name}_service.config").Settings
    assert f"{name.upper()}_DRAIN_SECONDS" not in _env_names(container)  # the default, then
    drain = settings.model_fields["drain_seconds"].default
    needed = int(pre_stop[1]) + drain + 20 + 5
    assert (int(pre_stop[1]), drain, needed) == (5, 3.0, 33.0)
    assert deployment["terminationGracePeriodSeconds"] >= needed


async def _probe(name: str, path: str) -> httpx.Response:
    """The service's own app, in process; its database is a port nobody listens on."""
    main = importlib.import_module(f"{name}_service.main")
    config = importlib.import_module(f"{name}_service.config")
    settings = config.Settings(
        database_url=f"postgresql://nobody@127.0.0.1:{Ports.free().auth}/x",
        jwks_url=f"http://127.0.0.1:{Ports.free().auth}/jwks.json",
    )
    app = main.create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://k8s") as client:
        return await client.get(path)


@pytest.mark.parametrize("name", SERVICES)
async def test_probes_use_the_services_health_routes_and_port(
    example: list[Manifest], name: str
) -> None:
    container = _container(example, "Deployment", name)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": 8000}
    assert "--port 8000" in image_command(name)
    assert "EXPOSE 8000" in DOCKERFILE.read_text()
    service = _of_kind(example, "Service")[name]
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    # Those routes answer as a probe needs: liveness without the database, readiness not.
    live = await _probe(name, "/healthz")
    assert (live.status_code, live.json()) == (200, {"status": "ok"})
    ready = await _probe(name, "/readyz")
    assert (ready.status_code, ready.json()) == (503, {"status": "unavailable", "database": "down"})
    # /readyz may take 3 s on the database; the probe waits longer than that.
    assert container["readinessProbe"]["timeoutSeconds"] > 3


def test_gateway_aux_probes_its_own_liveness(example: list[Manifest]) -> None:
    """/healthz of gateway-aux reports the services; its pods stay while a service is down."""
    container = _container(example, "Deployment", "gateway-aux")
    steps = dockerfile_steps(AUX_DOCKERFILE)
    assert container["readinessProbe"]["httpGet"]["path"] == "/livez"
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert "/livez" in next(a for i, a in steps if i == "HEALTHCHECK")
    assert container["ports"] == [{"name": "http", "containerPort": 8081}]
    assert "GATEWAY_AUX_PORT=8081" in " ".join(a for i, a in steps if i == "ENV")


def _pod_env(
    objects: list[Manifest], container: dict[str, Any], secrets: dict[tuple[str, str], str]
) -> dict[str, str]:
    """The environment Kubernetes gives the container: literal values, the ConfigMap's keys
    and the secrets' (`secrets`: (name, key) -> value; optional ones may be missing)."""
    configs = {name: c["data"] for name, c in _of_kind(objects, "ConfigMap").items()}
    env: dict[str, str] = {}
    for entry in container.get("env", []):
        if "value" in entry:
            env[entry["name"]] = entry["value"]
        elif "configMapKeyRef" in entry["valueFrom"]:
            ref = entry["valueFrom"]["configMapKeyRef"]
            env[entry["name"]] = configs[ref["name"]][ref["key"]]
        else:
            ref = entry["valueFrom"]["secretKeyRef"]
            if (ref["name"], ref["key"]) in secrets:
                env[entry["name"]] = secrets[(ref["name"], ref["key"])]
            else:
                assert ref.get("optional") is True, ref
    return env


@pytest.mark.slow
def test_the_job_then_the_pods_command_make_a_ready_service(
    example: list[Manifest], pg_cluster: PgCluster
) -> None:
    """What a pod does, as a process: the migration Job's command, then the Deployment's, from
    the image's working directory, each with only the environment the manifests give it (a
    CloudNativePG-style `postgresql://` uri); /readyz turns 200 and SIGTERM stops it in time."""
    processes: dict[str, subprocess.Popen[bytes]] = {}
    ports: dict[str, int] = {}
    migrations: dict[str, subprocess.Popen[bytes]] = {}
    try:
        secrets = {("auth-admin", "password"): "a long admin password"}
        for name in SERVICES:  # the three Jobs at once, as `kubectl apply` starts them
            secrets[(f"{name}-db-app", "uri")] = pg_cluster.database(f"k8s_{name}")
            job = _container(example, "Job", f"{name}-migrate")
            migrations[name] = subprocess.Popen(
                _venv(job["command"]),
                cwd=REPO_ROOT / "services" / name,  # the image's WORKDIR for SERVICE=name
                env={"PATH": os.environ["PATH"], **_pod_env(example, job, secrets)},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        for name, migration in migrations.items():
            _, stderr = migration.communicate(timeout=240)
            assert migration.returncode == 0, (name, stderr.decode()[-2000:])
        for name in SERVICES:
            container = _container(example, "Deployment", name)
            ports[name] = Ports.free().auth
            argv = _venv(container["command"])
            argv[argv.index("--host") + 1] = "127.0.0.1"  # loopback, not every interface
            argv[argv.index("--port") + 1] = str(ports[name])
            processes[name] = subprocess.Popen(
                argv,
                cwd=REPO_ROOT / "services" / name,
                env={"PATH": os.environ["PATH"], **_pod_env(example, container, secrets)},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        for name, port in ports.items():
            assert _wait_ready(f"http://127.0.0.1:{port}/readyz", processes[name], 90) == {
                "status": "ok",
                "database": "up",
                "migrations": "current",
            }, name
    finally:
        for migration in migrations.values():
            if migration.poll() is None:
                migration.kill()
                migration.wait(timeout=10)
        for process in processes.values():
            process.send_signal(signal.SIGTERM)
        deployments = _of_kind(example, "Deployment")
        for name, process in processes.items():
            pod = deployments[name]["spec"]["template"]["spec"]
            try:
                process.wait(timeout=pod["terminationGracePeriodSeconds"])
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
                pytest.fail(f"{name} outlived the pod's termination grace period")


def _venv(command: list[str]) -> list[str]:
    """The command with its program from this environment (the image's /app/.venv/bin)."""
    return [str(Path(sys.executable).parent / command[0]), *command[1:]]


def _wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    answer: Any = None
    while time.monotonic() < deadline:
        assert process.poll() is None, f"exited with {process.returncode}"
        try:
            response = httpx.get(url, timeout=5)
            answer = response.json()
            if response.status_code == 200:
                return answer
        except httpx.HTTPError as exc:
            answer = type(exc).__name__
        time.sleep(0.3)
    return answer


# ---- pods: security, resources, replicas, capacity ----


def _image_uid(dockerfile: Path) -> int:
    found = re.search(r"useradd [^\n]*--uid (\d+)", dockerfile.read_text())
    assert found, dockerfile
    return int(found.group(1))


def test_pods_run_as_the_image_user_non_root_read_only_without_capabilities(
    example: list[Manifest],
) -> None:
    uids = {"gateway-aux": _image_uid(AUX_DOCKERFILE)} | {
        name: _image_uid(DOCKERFILE) for name in (*SERVICES, "web")
    }
    pods = dict(_pod_specs(example))
    assert len(pods) == 5 + 3  # five Deployments, three Jobs
    for where, pod in pods.items():
        context = pod["securityContext"]
        owner = where.split("/")[1].removesuffix("-migrate")
        assert context["runAsNonRoot"] is True, where
        assert context["runAsUser"] == uids[owner] == 10001, where
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}, where
        assert pod["automountServiceAccountToken"] is False, where
        mounts_tmp = False
        for container in pod["containers"]:
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["capabilities"] == {"drop": ["ALL"]}, where
            for bound in ("requests", "limits"):
                assert set(container["resources"][bound]) == {"cpu", "memory"}, where
            mounts_tmp |= {"name": "tmp", "mountPath": "/tmp"} in container.get("volumeMounts", [])
        if owner in SERVICES:  # Python's tempfile needs a writable /tmp
            assert mounts_tmp, where
            assert {v["name"]: v for v in pod["volumes"]}["tmp"]["emptyDir"]["sizeLimit"]


def _cpu(quantity: str) -> float:
    return int(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


def _env_value(container: dict[str, Any], name: str) -> str:
    value: str = next(e["value"] for e in container["env"] if e["name"] == name)
    return value


@pytest.mark.parametrize("name", SERVICES)
def test_replicas_disruption_budget_autoscaler_and_connections_fit(
    example: list[Manifest], name: str
) -> None:
    deployment = _of_kind(example, "Deployment")[name]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= labels.items()
    assert labels["app.kubernetes.io/part-of"] == "marketplace"
    assert deployment["spec"]["replicas"] >= 2
    assert _of_kind(example, "Service")[name]["spec"]["selector"] == selector
    budget = _of_kind(example, "PodDisruptionBudget")[name]["spec"]
    assert budget["selector"]["matchLabels"] == selector
    assert budget["minAvailable"] == 1
    hpa = _of_kind(example, "HorizontalPodAutoscaler")[name]["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
    assert 2 <= hpa["minReplicas"] <= deployment["spec"]["replicas"] <= hpa["maxReplicas"]
    # README "Production concurrency": workers = the CPU limit's cores, at least 1...
    container = _container(example, "Deployment", name)
    workers = int(_env_value(container, "WEB_CONCURRENCY"))
    assert workers == max(1, math.floor(_cpu(container["resources"]["limits"]["cpu"])))
    # ...and every worker of every pod holds pool + read pool + 1 (LISTEN) connections:
    # 6 pods x 1 worker x (10 + 5 + 1) = 96, with room left for the Job and the operator.
    prefix = name.upper()
    per_worker = (
        int(_env_value(container, f"{prefix}_DB_POOL_SIZE"))
        + int(_env_value(container, f"{prefix}_DB_READ_POOL_SIZE"))
        + 1
    )
    assert (hpa["maxReplicas"], workers, per_worker) == (6, 1, 16)
    cluster = _of_kind(example, "Cluster")[f"{name}-db"]["spec"]
    max_connections = int(cluster["postgresql"]["parameters"]["max_connections"])
    assert hpa["maxReplicas"] * workers * per_worker + 10 <= max_connections


AUTH_ONLY_ENV = {
    "AUTH_COOKIE_SECURE",
    "AUTH_ADMIN_EMAIL",
    "AUTH_ADMIN_PASSWORD",
    "AUTH_SIGNING_KEY",
    "AUTH_PREVIOUS_SIGNING_KEYS",
}
# the printed bill's QR code names the gateway's public address
AUCTION_ONLY_ENV = frozenset({"AUCTION_PUBLIC_BASE_URL"})


def _as_twin(objects: list[Manifest], name: str) -> list[str]:
    """A service's objects with its name written as SERVICE, without what may differ between
    the services: resources, auth's own settings and auction's public address."""
    twins = []
    for obj in objects:
        if obj["metadata"]["name"] not in (name, f"{name}-migrate"):
            continue
        obj = json.loads(json.dumps(obj))
        for container in containers(obj):
            container.pop("resources", None)
            env = container.get("env", [])
            own = AUTH_ONLY_ENV | AUCTION_ONLY_ENV
            container["env"] = [e for e in env if e["name"] not in own]
        text = json.dumps(obj, sort_keys=True)
        twins.append(text.replace(name.upper(), "SERVICE").replace(name, "service"))
    return twins


def test_the_three_services_manifests_are_twins(example: list[Manifest]) -> None:
    """STYLE: the services are twins; their manifests differ only in resources, auth's own
    settings and the replicas the overlay gives them."""
    unscaled = [
        merge(o, {"spec": {"replicas": 2}}) if o["kind"] == "Deployment" else o for o in example
    ]
    auth = _as_twin(unscaled, "auth")
    assert len(auth) == 5  # Deployment, Service, PodDisruptionBudget, HPA, Job
    for name in ("trading", "auction"):
        assert _as_twin(unscaled, name) == auth, name


def test_one_postgresql_cluster_of_three_per_service(example: list[Manifest]) -> None:
    clusters = _of_kind(example, "Cluster")
    assert set(clusters) == {f"{name}-db" for name in SERVICES}
    for cluster in clusters.values():
        assert cluster["spec"]["instances"] == 3
        assert cluster["spec"]["storage"]["size"].endswith("Gi")
        assert cluster["spec"]["affinity"]["enablePodAntiAffinity"] is True


def test_every_object_carries_the_common_labels(example: list[Manifest]) -> None:
    for obj in example:
        labels = obj["metadata"].get("labels", {})
        assert labels.get("app.kubernetes.io/part-of") == "marketplace", obj["metadata"]["name"]
        if obj["kind"] not in ("Namespace", "ConfigMap"):
            assert "app.kubernetes.io/name" in labels, obj["metadata"]["name"]
            assert "app.kubernetes.io/component" in labels, obj["metadata"]["name"]


# ---- the web app's server ----


async def test_the_web_app_runs_the_image_command_with_probes_and_its_settings(
    example: list[Manifest], tmp_path: Path
) -> None:
    """No database, no Job: the image's serving command, the probes on its health routes,
    WEB_ settings only, the drain of the API pods (preStop, grace period)."""
    migrate, serve = image_halves("web")
    assert migrate is None
    assert "web-migrate" not in _of_kind(example, "Job")
    container = _container(example, "Deployment", "web")
    assert " ".join(container["command"]) == f"{serve} --timeout-graceful-shutdown 20"
    assert container["ports"] == [{"name": "http", "containerPort": 8000}]
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "5"]
    pod = _of_kind(example, "Deployment")["web"]["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] >= 5 + 3 + 20 + 5
    fields = settings_fields("web")
    for key in _env_names(container) - UVICORN_ENV:
        assert key.startswith("WEB_") and key[4:].lower() in fields, key
    service = _of_kind(example, "Service")["web"]
    assert (
        service["spec"]["selector"]
        == _of_kind(example, "Deployment")["web"]["spec"]["selector"]["matchLabels"]
    )
    assert _of_kind(example, "PodDisruptionBudget")["web"]["spec"]["minAvailable"] == 1
    # The probes' routes answer as a probe needs: alive at once, ready only with a build.
    from web_service.config import Settings
    from web_service.main import create_app

    app = create_app(Settings(dist_dir=tmp_path / "missing"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://k8s") as client:
        live = await client.get("/healthz")
        ready = await client.get("/readyz")
    assert (live.status_code, live.json()) == (200, {"status": "ok"})
    assert (ready.status_code, ready.json()) == (503, {"status": "unavailable", "build": "missing"})
