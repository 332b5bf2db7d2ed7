"""The deployment files as data: docker-compose.yml, the Dockerfile and the Kubernetes
manifests (deploy/k8s), read the way their tools read them, for the tests that keep them in
agreement with the services' Settings, the launcher and gateway/dynamic.yml
(tests/test_compose.py, tests/test_k8s.py).

`kustomize_build` renders a kustomization without the kustomize binary. It knows only the
features deploy/k8s uses (resources, namespace, images, replicas, patches of whole objects)
and refuses any other, so a manifest change that needs more fails its test instead of being
rendered differently from `kubectl apply -k`.
"""

from __future__ import annotations

import copy
import importlib
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from .stack import SERVICES, Ports, Stack

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE = REPO_ROOT / "docker-compose.yml"
DOCKERFILE = REPO_ROOT / "Dockerfile"
AUX_DOCKERFILE = REPO_ROOT / "gateway" / "aux" / "Dockerfile"
K8S_DIR = REPO_ROOT / "deploy" / "k8s"

Manifest = dict[str, Any]


def compose_env(service: dict[str, Any]) -> dict[str, str]:
    """A compose service's `environment`, as a mapping whichever form it is written in."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def settings_fields(name: str) -> set[str]:
    """The fields of a service's Settings class (its env names without the prefix)."""
    config = importlib.import_module(f"{name}_service.config")
    return set(config.Settings.model_fields)


def launcher_env_names(name: str, data_dir: Path) -> set[str]:
    """The `<SERVICE>_*` variables `make run` gives the service (devstack.stack.service_env),
    less `<SERVICE>_ENVIRONMENT`, which the image sets. The caller clears its own `<SERVICE>_*`
    environment first: the launcher passes it through."""
    prefix = f"{name.upper()}_"
    stack = Stack(
        data_dir,
        Ports(),
        database_urls={n: f"postgresql://x@h/{n}" for n in SERVICES},
        admin_email="a@example.com",
        admin_password="password1",
    )
    stack.resolved_urls = dict(stack.database_urls)
    return {k for k in stack.service_env(name) if k.startswith(prefix)} - {f"{prefix}ENVIRONMENT"}


def dockerfile_steps(path: Path) -> list[tuple[str, str]]:
    """(instruction, arguments) with continuation lines joined."""
    text = re.sub(r"\\\n", " ", path.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, args = line.partition(" ")
            out.append((instruction.upper(), args.strip()))
    return out


def image_command(name: str) -> str:
    """The shell command the image built with SERVICE=<name> runs (its CMD, `sh -c` form)."""
    cmd = next(args for ins, args in reversed(dockerfile_steps(DOCKERFILE)) if ins == "CMD")
    argv = json.loads(cmd)
    if argv[:2] != ["sh", "-c"] or len(argv) != 3:
        raise ValueError(f"the Dockerfile's CMD is not `sh -c '...'`: {cmd}")
    command: str = argv[2]
    return command.replace("${SERVICE}", name)


MIGRATE_IF_ANY = re.compile(r"^\{ \[ ! -f alembic\.ini \] \|\| (?P<migrate>.+); \}$")


def image_halves(name: str) -> tuple[str | None, str]:
    """The image command's two halves for SERVICE=<name>: the migration (None for a service
    without alembic.ini, the web app) and the serving command after `exec`."""
    first, serve = image_command(name).split(" && exec ")
    found = MIGRATE_IF_ANY.match(first)
    if found is None:
        raise ValueError(f"unexpected migration step in the Dockerfile's CMD: {first}")
    has_alembic = (REPO_ROOT / "services" / name / "alembic.ini").exists()
    return (found["migrate"] if has_alembic else None), serve


def rule_prefixes(rule: str) -> set[str]:
    """The paths a Traefik rule names: Path, PathPrefix (without its slash), PathRegexp's."""
    paths = set(re.findall(r"Path\(`([^`]+)`\)", rule))
    prefixes = {p.rstrip("/") for p in re.findall(r"PathPrefix\(`([^`]+)`\)", rule)}
    regexps = re.findall(r"PathRegexp\(`\^(/[a-z]+)/", rule)
    return (paths | prefixes | set(regexps)) - {""}


# ---- kustomize, the subset deploy/k8s uses ----

KUSTOMIZATION_KEYS = {
    "apiVersion",
    "kind",
    "resources",
    "namespace",
    "images",
    "replicas",
    "patches",
}
CLUSTER_SCOPED_KINDS = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
}
REPLICATED_KINDS = {"Deployment", "StatefulSet", "ReplicaSet"}


class KustomizeError(ValueError):
    """The kustomization uses something this renderer does not do."""


def load_documents(path: Path) -> list[Manifest]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def kustomize_build(directory: Path) -> list[Manifest]:
    """The objects `kubectl kustomize <directory>` prints (in resource order)."""
    spec: dict[str, Any] = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(spec) - KUSTOMIZATION_KEYS
    if unknown:
        raise KustomizeError(f"{directory}: unsupported kustomization fields {sorted(unknown)}")
    objects: list[Manifest] = []
    for entry in spec.get("resources", []):
        path = (directory / entry).resolve()
        objects += kustomize_build(path) if path.is_dir() else load_documents(path)
    for patch in spec.get("patches", []):
        if set(patch) != {"path"}:
            raise KustomizeError(f"{directory}: only `patches: - path: <file>` is supported")
        for change in load_documents(directory / patch["path"]):
            _merge_into(objects, change)
    if "namespace" in spec:
        for obj in objects:
            if obj["kind"] not in CLUSTER_SCOPED_KINDS:
                obj["metadata"]["namespace"] = spec["namespace"]
    for image in spec.get("images", []):
        _set_image(objects, image)
    for replicas in spec.get("replicas", []):
        _set_replicas(objects, replicas["name"], int(replicas["count"]))
    _check_unique(objects)
    return objects


def _key(obj: Manifest) -> tuple[str, str]:
    return obj["kind"], obj["metadata"]["name"]


def _check_unique(objects: Iterable[Manifest]) -> None:
    seen: set[tuple[str, str]] = set()
    for obj in objects:
        if _key(obj) in seen:
            raise KustomizeError(f"{_key(obj)} is defined twice")
        seen.add(_key(obj))


def _merge_into(objects: list[Manifest], change: Manifest) -> None:
    """A strategic-merge patch of a whole object, for maps and lists of named items (containers,
    env, volumes: merged by `name`); any other list is replaced, as kustomize does."""
    for i, obj in enumerate(objects):
        if _key(obj) == _key(change) and obj["apiVersion"] == change["apiVersion"]:
            objects[i] = merge(obj, change)
            return
    raise KustomizeError(f"patch target {_key(change)} is not in the resources")


def merge(base: Any, change: Any) -> Any:
    if isinstance(base, dict) and isinstance(change, dict):
        out = copy.deepcopy(base)
        for key, value in change.items():
            out[key] = merge(base[key], value) if key in base else copy.deepcopy(value)
        return out
    if isinstance(base, list) and isinstance(change, list) and _named(base) and _named(change):
        merged = copy.deepcopy(base)
        index = {item["name"]: i for i, item in enumerate(merged)}
        for item in change:
            if item["name"] in index:
                merged[index[item["name"]]] = merge(merged[index[item["name"]]], item)
            else:
                merged.append(copy.deepcopy(item))
        return merged
    return copy.deepcopy(change)


def _named(items: list[Any]) -> bool:
    return bool(items) and all(isinstance(i, dict) and "name" in i for i in items)


def containers(obj: Any) -> Iterable[dict[str, Any]]:
    """Every container and init container anywhere in an object (Pod templates, Jobs...)."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key in ("containers", "initContainers") and isinstance(value, list):
                yield from value
            else:
                yield from containers(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from containers(value)


def _set_image(objects: list[Manifest], image: dict[str, str]) -> None:
    name = image["name"]
    for obj in objects:
        for container in containers(obj):
            current = container.get("image", "")
            repo, tag = _split_image(current)
            if repo != name:
                continue
            repo = image.get("newName", repo)
            if "digest" in image:
                container["image"] = f"{repo}@{image['digest']}"
            else:
                tag = image.get("newTag", tag)
                container["image"] = f"{repo}:{tag}" if tag else repo


def _split_image(image: str) -> tuple[str, str]:
    repo, _, tag = image.rpartition(":")
    if not repo or "/" in tag:  # no tag (a registry port is not a tag)
        return image, ""
    return repo, tag


def _set_replicas(objects: list[Manifest], name: str, count: int) -> None:
    targets = [
        o for o in objects if o["kind"] in REPLICATED_KINDS and o["metadata"]["name"] == name
    ]
    if not targets:
        raise KustomizeError(f"replicas: no Deployment named {name}")
    for obj in targets:
        obj["spec"]["replicas"] = count
