"""The wheel, installed as an operator would: pinned dependencies, a clean venv, outside the repo.

``python -m build --wheel`` builds from a copy of the source tree (setuptools' ``build/``
directory would otherwise carry files from earlier builds into the wheel); a fresh venv
gets ``pip install --require-hashes -r requirements.lock``, then the wheel with
``--no-deps`` (pip's hash-checking mode wants a hash for every requirement, a wheel given
by path included; docs/deployment.md says how). From that venv, with the temporary
directory as the working directory, ``lienthong check-config`` passes and ``lienthong
run`` serves ``/readyz`` on loopback, then stops on SIGTERM sent to its pid.

pip reaches the package index for the locked versions (and reuses its cache).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

from tests.deploy.gateway_process import deploy_env, stop
from tests.payments.processes import REPO

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

#: What the wheel must carry besides the modules: read at run time from the package.
PACKAGE_DATA = [
    "gateway/default.toml",
    "gateway/openapi.json",
    "gateway/reports/words.toml",
    "adapters/population/dancu.wsdl",
    "gateway/store/migrations/0001_payments.sql",
]


def _run(args: list[str], cwd: Path, env: dict[str, str], timeout: float) -> str:
    """Run one step; its output, or a failure that shows it."""
    done = subprocess.run(  # noqa: S603 - our own interpreters and tools, fixed arguments
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, (
        f"{args[:4]} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
    return done.stdout + done.stderr


def _listed(root: Path) -> list[str]:
    """The files git would commit under ``root`` (tracked, and new ones not ignored)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],  # noqa: S607
        cwd=root,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [name for name in listed.split("\0") if name and (root / name).is_file()]


def _source_copy(destination: Path) -> Path:
    """This repo's committable files copied to ``destination`` (no build/, no venv)."""
    for name in _listed(REPO):
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target)
    return destination


def _clean_env(tmp_path: Path) -> dict[str, str]:
    """The environment without this repo's venv or path on it."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["HOME"] = os.environ.get("HOME", str(tmp_path))  # pip's cache lives under it
    return env


def test_the_wheel_installs_from_the_lock_and_runs_outside_the_repo(tmp_path: Path) -> None:
    """Build, install with hashes into a clean venv, check-config, run, /readyz, SIGTERM."""
    env = _clean_env(tmp_path)
    source = _source_copy(tmp_path / "src")
    _run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp_path / "dist")],
        source,
        env,
        600,
    )
    (wheel,) = (tmp_path / "dist").glob("lienthong-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for data in PACKAGE_DATA:
        assert data in names, f"{data} is not in {wheel.name}"
    shipped = [n for n in _listed(REPO) if n.startswith(("gateway/", "adapters/"))]
    missing = [n for n in shipped if not n.endswith(".py") and n not in names]
    assert not missing, f"package data missing from {wheel.name}: {missing}"
    assert not any(n.startswith("tests/") for n in names)

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], tmp_path, env, 300)
    pip = [str(venv / "bin/python"), "-m", "pip", "install", "--quiet"]
    _run([*pip, "--require-hashes", "-r", str(REPO / "requirements.lock")], tmp_path, env, 600)
    _run([*pip, "--no-deps", str(wheel)], tmp_path, env, 300)

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    where = _run(
        [str(venv / "bin/python"), "-c", "import gateway; print(gateway.__file__)"],
        run_dir,
        env,
        60,
    )
    assert str(venv) in where, where
    assert str(REPO) not in where, where

    port, gw_env = deploy_env(tmp_path, LIENTHONG_SERVER__DRAIN_SECONDS="0")
    gw_env = {k: v for k, v in gw_env.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    lienthong = str(venv / "bin/lienthong")
    _run([lienthong, "check-config"], run_dir, gw_env, 120)

    log = tmp_path / "gateway.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(  # noqa: S603 - the venv's own entry point
            [lienthong, "run"], cwd=run_dir, env=gw_env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        ready = False
        for _ in range(600):  # a bound on waiting (about 60 s), not a timing assertion
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                    ready = r.status == 200
            except OSError:
                assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
            if ready:
                break
            time.sleep(0.1)
        assert ready, log.read_text(errors="replace")[-3000:]
    finally:
        status = stop(proc)
    assert status == 0, log.read_text(errors="replace")[-3000:]
