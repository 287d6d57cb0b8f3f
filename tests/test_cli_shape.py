"""The command line's shape: --version, --config (and LIENTHONG_CONFIG) everywhere, the
packaged default, operator commands aimed where `run` aims, failures in one line."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from gateway import config as gateway_config
from gateway.cli import build_parser, main, operator_settings
from gateway.config import load_settings

REPO = Path(__file__).resolve().parent.parent


def _leaf_parsers(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return [(path, parser)]
    found = []
    for name, child in subs[0].choices.items():
        found += _leaf_parsers(child, (*path, name))
    return found


def test_every_command_takes_config_and_has_help() -> None:
    """`--config FILE` on every (sub)command, and a help line for each."""
    leaves = _leaf_parsers(build_parser())
    assert len(leaves) >= 14
    for path, parser in leaves:
        options = {o for a in parser._actions for o in a.option_strings}
        assert "--config" in options, path
        for action in parser._actions:
            if action.dest != "help":
                assert action.help, (path, action.dest)


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    """`lienthong --version` names the installed version and exits 0."""
    from gateway.build_info import version

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"lienthong {version()} (commit ")


def test_the_packaged_default_is_the_documented_one() -> None:
    """gateway/default.toml (in the wheel) and config/gateway.toml (documented) are one file."""
    packaged = gateway_config.DEFAULT_CONFIG
    assert packaged.parent == Path(gateway_config.__file__).resolve().parent
    assert packaged.read_bytes() == (REPO / "config" / "gateway.toml").read_bytes()


def test_the_default_ships_in_the_wheel(tmp_path: Path) -> None:
    """pyproject's package data takes default.toml into the wheel."""
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    data = project["tool"]["setuptools"]["package-data"]
    patterns = data.get("gateway", []) + data.get("*", [])
    assert any(Path("default.toml").match(p) for p in patterns)


def _bad_server_port(tmp_path: Path) -> Path:
    cfg = tmp_path / "named.toml"
    cfg.write_text('[server]\nport = "not-a-port"\n')
    return cfg


def test_check_config_takes_config_like_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Positional FILE, --config FILE, both equal: the same; two different files: refused."""
    cfg = _bad_server_port(tmp_path)
    for argv in (
        ["check-config", str(cfg)],
        ["check-config", "--config", str(cfg)],
        ["check-config", str(cfg), "--config", str(cfg)],
    ):
        assert main(argv) == 2
        assert "server.port" in capsys.readouterr().err
    assert main(["check-config", str(cfg), "--config", str(tmp_path / "other.toml")]) == 2
    assert "not both" in capsys.readouterr().err


def test_lienthong_config_names_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --config, $LIENTHONG_CONFIG is read; --config still wins over it."""
    cfg = _bad_server_port(tmp_path)
    monkeypatch.setenv("LIENTHONG_CONFIG", str(cfg))
    assert main(["check-config"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{cfg}: ")
    assert "server.port" in err
    assert main(["outbox", "list"]) == 2  # every command reads it
    assert str(cfg) in capsys.readouterr().err
    missing = tmp_path / "missing.toml"
    monkeypatch.setenv("LIENTHONG_CONFIG", str(missing))
    assert main(["check-config"]) == 2
    assert (
        capsys.readouterr()
        .err.strip()
        .endswith(f"config: {missing}: file not found (set by LIENTHONG_CONFIG)")
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_operator_commands_use_the_sandbox_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    """With sandboxes, the endpoints are the sandbox ports, as `run` has them."""
    monkeypatch.setenv("LIENTHONG_SANDBOX__DVCQG_PORT", "9713")
    monkeypatch.setenv("LIENTHONG_SANDBOX__VNPAY_PORT", "9714")
    monkeypatch.setenv("LIENTHONG_SANDBOX__POPULATION_PORT", "9711")
    monkeypatch.setenv("LIENTHONG_SANDBOX__NGSP_PORT", "0")  # any free port: unknowable
    settings = operator_settings(load_settings())
    assert settings.upstreams.dvcqg.adapter is not None
    assert settings.upstreams.vnpay.adapter is not None
    assert settings.upstreams.dvcqg.adapter.base_url == "http://127.0.0.1:9713"
    assert settings.upstreams.vnpay.adapter.api_url == (
        "http://127.0.0.1:9714/merchant_webapi/api/transaction"
    )
    assert settings.upstreams.population.adapter.endpoint == "http://127.0.0.1:9711/dancu/ws"
    assert settings.upstreams.business.adapter is not None
    assert settings.upstreams.business.adapter.base_url == "http://127.0.0.1:8702"  # as configured
    monkeypatch.setenv("LIENTHONG_SANDBOX__ENABLED", "false")
    plain = operator_settings(load_settings())
    assert plain.upstreams.dvcqg.adapter is not None
    assert plain.upstreams.dvcqg.adapter.base_url == "http://127.0.0.1:8703"


def _reconcile(tmp_path: Path, port: int) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIENTHONG_")}
    env.update(
        {
            "LIENTHONG_SANDBOX__DVCQG_PORT": str(port),
            "LIENTHONG_STORE__URL": f"sqlite:///{tmp_path}/gw.db",
            "LIENTHONG_AUDIT__ENABLED": "false",
            "LIENTHONG_TLS__DEV_PKI_DIR": str(tmp_path / "pki"),
        }
    )
    return subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [
            sys.executable,
            "-m",
            "gateway",
            "reconcile",
            "--provider",
            "dvcqg",
            "--date",
            "2026-11-30",
            "--out",
            str(tmp_path / "out"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_reconcile_reaches_the_sandbox_on_its_configured_port(tmp_path: Path) -> None:
    """A dvcqg sandbox on a port other than the file's base_url: reconcile reaches it."""
    from adapters.payment import dvcqg
    from adapters.systems import SandboxSite

    settings = load_settings()
    port = _free_port()

    async def scenario() -> subprocess.CompletedProcess[str]:
        site = SandboxSite("127.0.0.1", port, "http://127.0.0.1:9", token_lifetime_seconds=60.0)
        async with dvcqg.open_sandbox(settings.upstreams.dvcqg.adapter, site):
            return await asyncio.to_thread(_reconcile, tmp_path, port)

    proc = asyncio.run(scenario())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_connection_failure_names_the_url_in_one_line(tmp_path: Path) -> None:
    """Nothing listens on the sandbox port: one line naming the URL tried, exit 2."""
    port = _free_port()
    proc = _reconcile(tmp_path, port)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stdout + proc.stderr
    failed = [
        line
        for line in (proc.stdout + proc.stderr).splitlines()
        if line.startswith("reconcile dvcqg 2026-11-30 failed:")
    ]
    assert len(failed) == 1
    assert f"(tried http://127.0.0.1:{port}/" in failed[0]


def test_run_fails_in_one_line_when_it_cannot_start(tmp_path: Path) -> None:
    """A start-up failure the preflight cannot foresee (port taken) is one line, exit 2."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("LIENTHONG_")}
        pki = tmp_path / "pki"
        env.update(
            {
                "LIENTHONG_SERVER__PORT": str(port),
                "LIENTHONG_SERVER__TLS_PORT": "0",
                "LIENTHONG_SANDBOX__ENABLED": "false",
                "LIENTHONG_STORE__URL": f"sqlite:///{tmp_path}/gw.db",
                "LIENTHONG_TLS__DEV_PKI_DIR": str(pki),
            }
        )
        proc = subprocess.run(
            [sys.executable, "-m", "gateway", "run"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("lienthong run: failed: ")
    assert "Address already in use" in last


def test_dates_parse(capsys: pytest.CaptureFixture[str]) -> None:
    """A bad --date is argparse's one-line usage error (exit 2), not a traceback."""
    with pytest.raises(SystemExit) as done:
        main(["reconcile", "--provider", "dvcqg", "--date", "yesterday"])
    assert done.value.code == 2
    assert "invalid fromisoformat value" in capsys.readouterr().err
    assert dt.date.fromisoformat("2026-11-30")
