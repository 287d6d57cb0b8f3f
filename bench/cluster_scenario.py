"""The cluster (issue 12): signed verifications through nginx to one, then three gateways.

The gateways share one PostgreSQL schema with ``nonce_store = "store"`` (what
several instances need), each with its own ``instance_id``; nginx runs the
shipped config's HTTP shape (config/nginx/lienthong.conf: keep-alive upstream,
``least_conn``, ``X-Forwarded-For``) as one process (``master_process off``) so
its CPU time is that of one pid. Figures: verifications a second at saturation,
and CPU milliseconds per verification of every gateway together, of nginx, and
of the population peer.

On a machine of two cores this cannot show scale-out: the load generator is
pinned to one core (when there are two) and nginx, the gateways and the peer
share the other, so three instances compete for the core one already filled.
The CPU per verification is the figure that carries over to sizing (cores
needed = rate x CPU per request); the throughput ratio says how much the extra
processes cost when there is no extra core (near or below 1.0 here).
"""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
from pathlib import Path

from bench.figures import Comparison, Figures, ratio
from bench.pg_schema import drop_schema, postgres_config
from bench.processes import free_loopback_port
from bench.scenario_kit import ScenarioReport, saturation, signed
from bench.stack import POPULATION, BenchStack, GatewayVariant
from bench.targets import Target, bench_citizens, verify_body

INSTANCES = 3
NGINX = "nginx"

NGINX_CONF = """worker_processes 1;
master_process off;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    upstream lienthong {{
{servers}        least_conn;
        keepalive 64;
        keepalive_requests 10000;
        keepalive_timeout 60s;
    }}
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 1m;
        location / {{
            proxy_pass http://lienthong;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Request-ID $http_x_request_id;
            proxy_next_upstream error timeout;
        }}
    }}
}}
"""


def _start_nginx(stack: BenchStack, binary: str, name: str, upstreams: list[int]) -> str:
    directory = stack.workdir / name
    directory.mkdir(parents=True, exist_ok=True)
    port = free_loopback_port()
    servers = "".join(
        f"        server 127.0.0.1:{p} max_fails=3 fail_timeout=10s;\n" for p in upstreams
    )
    conf = Path(directory, "nginx.conf")
    conf.write_text(NGINX_CONF.format(dir=directory, servers=servers, port=port))
    stack._server(name, [binary, "-p", f"{directory}/", "-c", str(conf)], port)
    return stack.url(name)


def _gateway_cpu(figures: Figures, names: list[str]) -> float:
    return sum(figures.cpu_ms(name) for name in names)


def cluster(stack: BenchStack) -> ScenarioReport:
    """One gateway behind nginx, then three, on one PostgreSQL: throughput and CPU each."""
    report = ScenarioReport(
        "cluster", "The cluster: signed verifications through nginx to 1 and 3 instances"
    )
    binary = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if binary is None:
        report.notes.append("nginx is not installed (Debian: nginx-light): skipped")
        return report
    store = asyncio.run(postgres_config(stack.settings.postgres_dsn, "bench_cluster_"))
    if store is None:
        report.notes.append(f"PostgreSQL at {stack.settings.postgres_dsn} does not answer: skipped")
        return report
    bodies = [verify_body(c) for c in bench_citizens()]
    names = [f"cluster-{i}" for i in range(1, INSTANCES + 1)]
    try:
        ports = []
        for name in names:
            variant = GatewayVariant(
                store_url=store.url,
                schema_name=store.schema_name,
                env=(
                    ("LIENTHONG_INSTANCE_ID", f"bench-{name}"),
                    ("LIENTHONG_SERVER__NONCE_STORE", "store"),
                    ("LIENTHONG_SERVER__TRUSTED_PROXIES", '["127.0.0.1/32"]'),
                ),
            )
            ports.append(stack.start_gateway(name, variant).port)
        closed = "saturation"
        runs: dict[int, Figures] = {}
        for count in (1, INSTANCES):
            front = f"{NGINX}-{count}"
            url = _start_nginx(stack, binary, front, ports[:count])
            target = Target(
                f"{count} instance{'s' if count > 1 else ''}",
                signed("POST", [url + "/v1/citizens/verify"], bodies),
                (front, *names[:count], POPULATION),
            )
            figures = stack.measure(report.name, target, saturation(stack), closed)
            # One name per role in the table: every gateway's CPU summed, then nginx's.
            figures = dataclasses.replace(
                figures,
                cpu_ms_per_request={
                    "gateways": _gateway_cpu(figures, names[:count]),
                    NGINX: figures.cpu_ms(front),
                    POPULATION: figures.cpu_ms(POPULATION),
                },
            )
            report.figures.append(figures)
            runs[count] = figures
            stack.stop_server(front)
    finally:
        for name in names:
            stack.stop_server(name)
        asyncio.run(drop_schema(store))
    one, three = runs[1], runs[INSTANCES]
    report.comparisons += [
        Comparison(
            f"throughput {INSTANCES} instances / 1 (one core for all servers)",
            ratio(three.per_second, one.per_second),
            "×",
        ),
        Comparison(
            "gateway CPU per verification, 3 instances / 1",
            ratio(three.cpu_ms("gateways"), one.cpu_ms("gateways")),
            "×",
        ),
    ]
    report.notes.append(
        f"servers pinned to CPUs {sorted(stack.cpus.servers or [])}, load generator to"
        f" {sorted(stack.cpus.load_generator or [])}: the instances share the servers' cores,"
        " so throughput cannot scale here; size by CPU per verification"
    )
    return report
