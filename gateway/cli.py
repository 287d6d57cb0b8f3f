"""``lienthong``: the operator's command line.

    lienthong run [--config FILE]          the gateway (and, in the embedded default, the sandboxes)
    lienthong sandbox [--config FILE]      the sandbox national systems alone
    lienthong certs init [--dir D] [--force]   the dev PKI
    lienthong check-config [FILE]          validate a config; refuse dev material in production
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from gateway.config import DEFAULT_CONFIG, ConfigError, load_settings, production_problems


def _add_config(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config", type=Path, default=None,
        help=f"TOML config file (default: {DEFAULT_CONFIG.relative_to(DEFAULT_CONFIG.parents[1])})",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lienthong", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="start the gateway")
    _add_config(run)

    sandbox = sub.add_parser("sandbox", help="start the sandbox national systems alone")
    _add_config(sandbox)

    certs = sub.add_parser("certs", help="the dev PKI")
    certs_sub = certs.add_subparsers(dest="certs_command", required=True)
    init = certs_sub.add_parser("init", help="generate the dev CA, server and client certificates")
    init.add_argument("--dir", type=Path, default=Path("certs/dev"))
    init.add_argument("--force", action="store_true", help="replace existing files")
    _add_config(init)

    check = sub.add_parser("check-config", help="validate a config file")
    check.add_argument("file", nargs="?", type=Path, default=None)
    return parser


def _cmd_check_config(path: Path | None) -> int:
    shown = path or DEFAULT_CONFIG
    try:
        settings = load_settings(path)
    except ConfigError as exc:
        print(f"invalid configuration in {exc.path}:", file=sys.stderr)
        for err in exc.errors:
            print(f"  {err}", file=sys.stderr)
        return 2
    problems = production_problems(settings)
    if problems:
        print(f"{shown}: not fit for production:", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        return 2
    print(f"{shown}: ok (environment {settings.environment})")
    return 0


def _cmd_certs_init(directory: Path, force: bool, config: Path | None) -> int:
    from gateway.pki import init_dev_pki

    settings = load_settings(config)
    clients = [c.id for c in settings.clients] or ["motcua-demo", "portal-demo"]
    pki = init_dev_pki(directory, clients=clients, force=force)
    print(f"dev PKI in {directory} (CA {pki.ca_cert})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "check-config":
            return _cmd_check_config(args.file)
        if args.command == "certs":
            return _cmd_certs_init(args.dir, args.force, args.config)
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    from gateway import server

    try:
        if args.command == "run":
            asyncio.run(server.serve(settings))
        elif args.command == "sandbox":
            asyncio.run(server.serve_sandboxes(settings))
    except KeyboardInterrupt:
        pass
    return 0
