"""``lienthong``: the operator's command line.

    lienthong --version                    the installed version and build commit
    lienthong run                          the gateway (and, in the embedded default, the sandboxes)
    lienthong sandbox                      the sandbox national systems alone
    lienthong certs init [--dir D] [--force]   the dev PKI
    lienthong check-config [FILE]          the preflight: every problem that would stop `run`
    lienthong outbox list|retry|replay     the webhook outbox, for operators
    lienthong payments purge-personal-data   erase payer names and ids past their retention
    lienthong demo [--provider P]          the whole story of a dossier against a running gateway
    lienthong reconcile --provider P --date D   match a day's payments with the provider's list
    lienthong audit verify|export|archive  the tamper-evident audit log
    lienthong audit subject --id-number FILE|-   a citizen's record of access (Decree 13)
    lienthong security report [--since 24h]     security events and alerts, summarised
    lienthong report --period 2026-Q4      the quarterly report of online services

Every command takes ``--config FILE``; without it, ``$LIENTHONG_CONFIG`` names the
file, else the embedded default (packaged with the wheel; ``config/gateway.toml`` is
its copy). Operator commands reach the national systems at the endpoints ``run``
uses (with ``[sandbox] enabled``, the sandbox ports). A failure is one line on
stderr, never a traceback; exit status 2 means the configuration or a peer refused.

Operator commands that change something (outbox retry/replay, reconcile, audit
archive, payments purge-personal-data) are themselves recorded in the audit log, in the chain
``<instance_id>/operator``. Every command logs to stderr; stdout carries only its own output.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gateway.config import CONFIG_ENV, ConfigError, Settings, load_settings
from gateway.errors import CommandRefused

EXIT_REFUSED = 2


def _add_config(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE",
        help=f"TOML config file (default: ${CONFIG_ENV}, else the embedded default)",
    )


def _group(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, text: str
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    """The command ``name`` with sub-commands; ``args.<name>_command`` is the one given."""
    group = sub.add_parser(name, help=text)
    return group.add_subparsers(dest=f"{name}_command", required=True)


def _version() -> str:
    from gateway.build_info import commit, version

    return f"lienthong {version()} (commit {commit()})"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lienthong",
        description="lienthong: the city's integration gateway to the national systems.",
        epilog=f"Every command takes --config FILE (or ${CONFIG_ENV}). "
        "`lienthong COMMAND --help` describes each one.",
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="start the gateway",
        description="Start the gateway (and, with [sandbox] enabled, the sandbox national"
        " systems). The preflight of check-config runs first: on any problem, its report"
        " is printed and the exit status is 2.",
    )
    _add_config(run)
    run.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="serve with N worker processes sharing the listeners, under one supervisor that"
        " restarts a worker that dies and forwards SIGTERM/SIGHUP (default 1: one process)."
        ' N > 1 needs [server] nonce_store = "store" and [sandbox] enabled = false; each'
        " worker's audit chain is <instance_id>-w<I>",
    )
    run.add_argument("--worker-index", type=int, default=None, help=argparse.SUPPRESS)

    sandbox = sub.add_parser("sandbox", help="start the sandbox national systems alone")
    _add_config(sandbox)

    certs_sub = _group(sub, "certs", "the dev PKI")
    init = certs_sub.add_parser("init", help="generate the dev CA, server and client certificates")
    init.add_argument(
        "--dir",
        type=Path,
        default=Path("certs/dev"),
        help="where the files go (default: certs/dev)",
    )
    init.add_argument("--force", action="store_true", help="replace existing files")
    _add_config(init)

    check = sub.add_parser(
        "check-config",
        help="the preflight: every problem that would stop `run`",
        description="Check the configuration as `run` would use it (file, LIENTHONG_*"
        " environment, systemd credentials): every key, every file it names (present,"
        " readable, secrets not world-readable), every certificate (parses, valid now,"
        " matches its key, chains to the city CA), every URL; in production, no dev"
        " material. All problems in one run, one line each. Exit 0 only when `run`"
        " would start, 2 otherwise.",
    )
    check.add_argument(
        "file",
        nargs="?",
        type=Path,
        default=None,
        metavar="FILE",
        help="the config file (same as --config)",
    )
    _add_config(check)

    outbox_sub = _group(sub, "outbox", "the webhook outbox: list, retry, replay")
    listing = outbox_sub.add_parser("list", help="events, oldest first")
    listing.add_argument(
        "--status",
        choices=["pending", "delivered", "dead"],
        default=None,
        help="only events in this state",
    )
    listing.add_argument("--payment", default=None, help="only this payment's events")
    listing.add_argument("--limit", type=int, default=100, help="at most this many (100)")
    _add_config(listing)
    for name, text in (
        ("retry", "put a dead event back in line now"),
        ("replay", "send a delivered event again (same webhook-id)"),
    ):
        cmd = outbox_sub.add_parser(name, help=text)
        cmd.add_argument("event_id", help="the event's id (see `outbox list`)")
        _add_config(cmd)

    payments_sub = _group(sub, "payments", "the payments table, for operators")
    purge = payments_sub.add_parser(
        "purge-personal-data",
        help="erase payer names and ids of payments final for longer than the retention",
        description=(
            "Erase now the payer's name and clear personal id of every payment that has"
            " been final (paid, failed, cancelled, expired) for longer than"
            " [payments] personal_data_retention_days (default 30). The masked id and its"
            " keyed digest stay; open payments and payments under review are left alone."
            " The running gateway does the same after each poller round: this command is"
            " for doing it on demand, for example after lowering the retention."
        ),
    )
    _add_config(purge)

    demo = sub.add_parser("demo", help="the whole story of a dossier against a running gateway")
    demo.add_argument("--gateway", default=None, help="gateway URL (default: from the config)")
    demo.add_argument(
        "--provider",
        choices=["dvcqg", "vnpay"],
        default=None,
        help="who is paid (default: [payments] default_provider)",
    )
    demo.add_argument(
        "--receiver-port",
        type=int,
        default=None,
        help=(
            "port of the demo receiver (default: the port of the client's webhook.url;"
            " another port is refused unless the config sends webhooks and returns there)"
        ),
    )
    demo.add_argument(
        "--serve",
        action="store_true",
        help="only serve the demo one-stop page and receiver until Ctrl-C",
    )
    _add_config(demo)

    reconcile = sub.add_parser("reconcile", help="reconcile one day with a provider's list")
    reconcile.add_argument(
        "--provider",
        required=True,
        choices=["dvcqg", "vnpay"],
        help="the provider whose day list is matched",
    )
    reconcile.add_argument(
        "--date",
        required=True,
        type=dt.date.fromisoformat,
        help="the day, YYYY-MM-DD (Vietnam time)",
    )
    reconcile.add_argument(
        "--out", type=Path, default=Path("var/reconcile"), help="where the report is written"
    )
    _add_config(reconcile)

    audit_sub = _group(sub, "audit", "the tamper-evident audit log")
    verify = audit_sub.add_parser("verify", help="check every chain and checkpoint (0 = intact)")
    verify.add_argument("--since", default=None, help="24h, 7d or an ISO time")
    _add_config(verify)
    export = audit_sub.add_parser("export", help="a period's records as JSON lines, with the key")
    export.add_argument("--out", type=Path, default=Path("-"), help="file, or - for stdout")
    export.add_argument("--since", default=None, help="24h, 7d or an ISO time")
    export.add_argument("--until", default=None, help="24h, 7d or an ISO time (default: no end)")
    _add_config(export)
    archive = audit_sub.add_parser("archive", help="archive records past the retention period")
    archive.add_argument("--instance", default=None, help="the chain (default: this instance)")
    _add_config(archive)
    subject = audit_sub.add_parser(
        "subject",
        help="every record of one citizen: a table, a printable letter (HTML) and JSON",
        description=(
            "Find every audit record (all chains, archive files too) of the citizen whose"
            " personal id is in FILE_OR_STDIN (- for standard input; never the id itself,"
            " which would land in shell history). Writes subject-access-<time>.html and"
            " .json to --out; the run is recorded in the operator chain without the id."
        ),
    )
    subject.add_argument(
        "--id-number",
        required=True,
        metavar="FILE_OR_STDIN",
        help="a file holding the personal id, or - for standard input (never the id itself)",
    )
    subject.add_argument(
        "--out",
        type=Path,
        default=Path("var/subject-access"),
        help="where the letter (HTML) and the JSON are written",
    )
    subject.add_argument(
        "--lang", choices=["vi", "en"], default="vi", help="the letter's language (vi)"
    )
    subject.add_argument("--operator", default=None, help="who asks (default: the OS user)")
    subject.add_argument("stray", nargs="*", help=argparse.SUPPRESS)
    _add_config(subject)

    security_sub = _group(sub, "security", "security events and alerts")
    report = security_sub.add_parser("report", help="events and alerts by kind, client, address")
    report.add_argument("--since", default="24h", help="24h, 7d or an ISO time (default: 24h)")
    report.add_argument("--json", action="store_true", help="one JSON document instead of text")
    _add_config(report)

    from gateway.reports.command import add_report_parser

    add_report_parser(sub, _add_config)
    return parser


def _store_config(settings: Any) -> Any:
    from gateway.store import StoreConfig

    section = settings.store
    return StoreConfig(url=section.url, pool_size=1, schema_name=section.schema_name)


async def _record_operator_command(
    settings: Any, command: str, args: dict[str, Any], outcome: str
) -> None:
    """Append the command to the operator chain of the audit log (when auditing is on)."""
    if not settings.audit.enabled:
        return
    from gateway.audit.log import AuditLog
    from gateway.audit.middleware import audit_operator
    from gateway.store import open_store

    store = await open_store(_store_config(settings))
    try:
        log = AuditLog(store, settings.audit, f"{settings.instance_id}/operator")
        await log.start()
        try:
            await audit_operator(log, command, args, outcome=outcome)
        finally:
            await log.stop()
    finally:
        await store.close()


def _cmd_audit(settings: Any, args: argparse.Namespace) -> int:
    from gateway.audit.commands import (
        audit_archive_command,
        audit_export_command,
        audit_verify_command,
    )

    store_config = _store_config(settings)
    if args.audit_command == "verify":
        return asyncio.run(audit_verify_command(store_config, settings.audit, args.since))
    if args.audit_command == "export":
        return asyncio.run(
            audit_export_command(store_config, settings.audit, args.out, args.since, args.until)
        )
    if args.audit_command == "subject":
        from gateway.audit.subject import audit_subject_command

        if args.stray:  # never echoed: it may be the personal id itself
            print(
                "lienthong audit subject: unexpected argument(s); the personal id is read"
                " from the --id-number file or standard input only",
                file=sys.stderr,
            )
            return 2
        return asyncio.run(
            audit_subject_command(
                store_config,
                settings.audit,
                settings.instance_id,
                args.id_number,
                args.out,
                lang=args.lang,
                operator=args.operator,
            )
        )
    instance = args.instance or settings.instance_id
    status = asyncio.run(audit_archive_command(store_config, settings.audit, instance))
    asyncio.run(
        _record_operator_command(
            settings, "audit archive", {"instance": instance}, "ok" if status == 0 else "failed"
        )
    )
    return status


def _cmd_security(settings: Any, args: argparse.Namespace) -> int:
    from gateway.security.commands import security_report_command

    return asyncio.run(
        security_report_command(_store_config(settings), args.since, as_json=args.json)
    )


def _print_preflight(report: Any) -> None:
    for line in report.lines():
        print(line, file=sys.stderr)


def _cmd_check_config(path: Path | None) -> int:
    from gateway.preflight import preflight

    report = preflight(path)
    if not report.ok:
        _print_preflight(report)
        return EXIT_REFUSED
    if report.settings is not None:
        from gateway.tracing import tracing_problems

        for warning in tracing_problems(report.settings.tracing):  # run starts, without export
            print(f"{report.path}: warning: {warning}", file=sys.stderr)
        for warning in _callback_source_warnings(report.settings):
            print(f"{report.path}: warning: {warning}", file=sys.stderr)
    environment = report.settings.environment if report.settings else "?"
    print(f"{report.path}: ok (environment {environment})")
    return 0


def _callback_source_warnings(settings: Settings) -> list[str]:
    from gateway.security.callbacks import callback_source_warnings

    if not settings.payments.enabled:
        return []
    from adapters.systems import SYSTEMS

    adapters = [(s.name, settings.upstreams.section(s.name).adapter) for s in SYSTEMS if s.payment]
    return callback_source_warnings(
        [(name, a, getattr(a, a.ENDPOINTS[0]) if a else "") for name, a in adapters],
        production=settings.environment == "production",
    )


def _supervise(settings: Settings, config: Path | None, workers: int) -> int:
    from gateway import supervisor
    from gateway.dev.pki import ensure_dev_pki
    from gateway.logging import configure_logging

    refused = supervisor.refusal(settings, workers)
    if refused is not None:
        print(f"lienthong run: {refused}", file=sys.stderr)
        return EXIT_REFUSED
    configure_logging(level=settings.logging.level, json_lines=settings.logging.json_lines)
    ensure_dev_pki(settings)  # once, before the workers would race to make it
    argv = [sys.executable, "-m", "gateway", "run"]
    if config is not None:
        argv += ["--config", str(config)]
    return asyncio.run(supervisor.Supervisor(settings, workers, argv).run())


def _serve_worker(settings: Settings, config: Path | None, index: int) -> int:
    from gateway import server, supervisor

    def adjust(s: Settings) -> Settings:
        return s.model_copy(
            update={"instance_id": supervisor.worker_instance_id(s.instance_id, index)}
        )

    bound = supervisor.inherited_listeners(settings)
    asyncio.run(server.serve(adjust(settings), config_path=config, bound=bound, adjust=adjust))
    return 0


def _config_argument(args: argparse.Namespace) -> Path | None:
    """``check-config FILE`` and ``check-config --config FILE`` are the same; both: equal."""
    given = getattr(args, "file", None)
    if given is not None and args.config is not None and given != args.config:
        raise CommandRefused("give the config file once: as FILE or as --config, not both")
    config: Path | None = given if given is not None else args.config
    return config


def operator_settings(settings: Settings) -> Settings:
    """``settings`` with the endpoints ``run`` uses: with sandboxes, their configured ports.

    ``lienthong run`` aims every adapter at the sandboxes it starts
    (:func:`gateway.dev.embedded.point_at_sandboxes`), whatever the endpoint keys say; an
    operator command next to it must do the same to reach them. A port of 0 (any free
    port) cannot be known from outside, so those endpoints stay as configured.
    """
    if not settings.sandbox.enabled:
        return settings
    from adapters.systems import SYSTEMS
    from gateway.dev.embedded import Sandboxes, _default_gateway_url, point_at_sandboxes

    sb = settings.sandbox
    ports = {s.name: getattr(sb, s.sandbox_port_key) for s in SYSTEMS}
    sandboxes = Sandboxes(
        {name: f"http://{sb.host}:{port}" for name, port in ports.items() if port}
    )
    return point_at_sandboxes(settings, sandboxes, gateway_url=_default_gateway_url(settings))


def _cmd_certs_init(directory: Path, force: bool, config: Path | None) -> int:
    from gateway.dev.pki import init_dev_pki

    settings = load_settings(config)
    clients = [c.id for c in settings.clients] or ["motcua-demo", "portal-demo"]
    pki = init_dev_pki(directory, clients=clients, force=force)
    print(f"dev PKI in {directory} (CA {pki.ca.cert})")
    return 0


async def _outbox(settings: Any, command: str, args: argparse.Namespace) -> int:
    from gateway.payments.outbox import Outbox, OutboxStatus
    from gateway.store import open_store

    store = await open_store(_store_config(settings))
    try:
        outbox = Outbox(store)
        if command == "list":
            status = OutboxStatus(args.status) if args.status else None
            events = await outbox.list_events(status, payment_id=args.payment, limit=args.limit)
            print(f"{'event':<25} {'status':<10} {'type':<22} {'payment':<25} att  last error")
            for e in events:
                print(
                    f"{e.id:<25} {e.status:<10} {e.type:<22} {e.payment_id:<25}"
                    f" {e.attempts:>3}  {e.last_error or ''}"
                )
            return 0
        done = await (outbox.retry if command == "retry" else outbox.replay)(args.event_id)
        wanted = "dead" if command == "retry" else "delivered"
        if not done:
            print(f"{args.event_id}: no {wanted} event with this id", file=sys.stderr)
            return 1
        print(f"{args.event_id}: queued for delivery")
        return 0
    finally:
        await store.close()


async def _purge_personal_data(settings: Any) -> int:
    from gateway.logging import mask_text
    from gateway.payments.personal_data import ErasureReport, purge_personal_data
    from gateway.store import open_store

    days = settings.payments.personal_data_retention_days

    def progress(so_far: ErasureReport) -> None:
        print(f"… {so_far.erased} payments erased so far", file=sys.stderr, flush=True)

    try:
        store = await open_store(_store_config(settings))
        try:
            report = await purge_personal_data(store, days, settings.audit, progress=progress)
        finally:
            await store.close()
    except Exception as exc:  # one line for the operator, never a traceback
        reason = mask_text(str(exc)) or type(exc).__name__
        print(f"lienthong payments purge-personal-data: failed: {reason}", file=sys.stderr)
        return 1
    line = (
        f"erased the payer's name and personal id of {report.erased} payment(s)"
        f" final for more than {days} day(s)"
    )
    if report.backfilled:
        line += f"; {report.backfilled} older row(s) given their id digest and masked id"
    print(line)
    return 0


def _cmd_demo(settings: Any, args: argparse.Namespace) -> int:
    from gateway.dev.demo import DemoConfig, DemoFailed, run_demo, serve_demo_page

    try:
        config = DemoConfig.from_settings(
            settings,
            gateway_url=args.gateway,
            provider=args.provider,
            receiver_port=args.receiver_port,
        )
    except DemoFailed as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 2
    if args.serve:
        from gateway.signals import wait_for_stop

        async def serve() -> None:
            stop = asyncio.Event()
            task = asyncio.create_task(serve_demo_page(config, stop))
            print(f"demo one-stop page on {config.receiver_url}/ (Ctrl-C stops it)", flush=True)
            await wait_for_stop()
            stop.set()
            await task

        asyncio.run(serve())
        return 0
    return asyncio.run(run_demo(config))


def _cmd_reconcile(settings: Any, args: argparse.Namespace) -> int:
    try:
        from gateway.payments.reconcile import reconcile_command  # type: ignore[attr-defined, unused-ignore]
    except ImportError:
        print(
            "lienthong reconcile: reconciliation is not part of this build yet"
            " (gateway.payments.reconcile.reconcile_command is missing)",
            file=sys.stderr,
        )
        return 2
    result: int = reconcile_command(settings, args.provider, args.date, args.out)
    return result


def _log_to_stderr(settings: Settings | None = None) -> None:
    """Operator commands log to stderr, never into their own output on stdout.

    structlog's unconfigured default prints to stdout; configured once here (at the
    config's level and format), unless something (the test suite) configured it already.
    """
    import structlog

    from gateway.logging import configure_logging

    if structlog.is_configured():
        return
    section = settings.logging if settings is not None else None
    configure_logging(
        level=section.level if section else "INFO",
        json_lines=section.json_lines if section else True,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except CommandRefused as exc:
        print(f"lienthong {args.command}: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # one line for the operator, never a traceback
        print(f"lienthong {args.command}: failed: {describe_failure(exc)}", file=sys.stderr)
        return EXIT_REFUSED


def describe_failure(exc: BaseException) -> str:
    """One line saying what went wrong, naming the URL or file when the error knows it."""
    import aiohttp

    from gateway.logging import mask_text

    if isinstance(exc, aiohttp.ClientConnectorError):
        reason = exc.os_error.strerror or str(exc.os_error)
        return f"cannot connect to {exc.host}:{exc.port}: {reason}"
    if isinstance(exc, ConfigError):
        return str(exc)
    text = mask_text(str(exc)) or ""
    name = type(exc).__name__
    return f"{name}: {text}" if text and name not in text else (text or name)


def _dispatch(args: argparse.Namespace) -> int:
    config = _config_argument(args)
    try:
        if args.command in ("check-config", "certs"):
            _log_to_stderr()
        if args.command == "check-config":
            return _cmd_check_config(config)
        if args.command == "certs":
            return _cmd_certs_init(args.dir, args.force, config)
        if args.command == "run":
            from gateway.preflight import preflight

            report = preflight(config)
            if not report.ok:
                _print_preflight(report)
                return EXIT_REFUSED
        settings = load_settings(config)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_REFUSED
    if args.command != "run":
        settings = operator_settings(settings)
    if args.command not in ("run", "sandbox"):  # those configure logging as they start
        _log_to_stderr(settings)
    if args.command == "outbox":
        status = asyncio.run(_outbox(settings, args.outbox_command, args))
        if args.outbox_command != "list":
            asyncio.run(
                _record_operator_command(
                    settings,
                    f"outbox {args.outbox_command}",
                    {"event_id": args.event_id},
                    "ok" if status == 0 else "failed",
                )
            )
        return status
    if args.command == "payments":
        status = asyncio.run(_purge_personal_data(settings))
        try:
            asyncio.run(
                _record_operator_command(
                    settings,
                    "payments purge-personal-data",
                    {"retention_days": settings.payments.personal_data_retention_days},
                    "ok" if status == 0 else "failed",
                )
            )
        except Exception as exc:  # one line, and only if the purge's own line did not say why
            if status == 0:
                print(
                    f"lienthong payments purge-personal-data: done but not audited:"
                    f" {type(exc).__name__}",
                    file=sys.stderr,
                )
            return 1
        return status
    if args.command == "demo":
        return _cmd_demo(settings, args)
    if args.command == "reconcile":
        status = _cmd_reconcile(settings, args)
        asyncio.run(
            _record_operator_command(
                settings,
                "reconcile",
                {"provider": args.provider, "date": args.date.isoformat()},
                "ok" if status == 0 else "failed",
            )
        )
        return status
    if args.command == "audit":
        return _cmd_audit(settings, args)
    if args.command == "report":
        from gateway.reports.command import report_command

        return report_command(settings, args)
    if args.command == "security":
        return _cmd_security(settings, args)
    from gateway import server

    try:
        if args.command == "run" and args.worker_index is not None:
            return _serve_worker(settings, args.config, args.worker_index)
        if args.command == "run" and args.workers != 1:
            return _supervise(settings, args.config, args.workers)
        if args.command == "run":
            asyncio.run(server.serve(settings, config_path=args.config))
        elif args.command == "sandbox":
            asyncio.run(server.serve_sandboxes(settings))
    except KeyboardInterrupt:
        pass
    return 0
