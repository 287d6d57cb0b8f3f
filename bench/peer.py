"""``python -m bench.peer population|ngsp --port P``: one sandbox peer in its own process.

The peers are the project's own sandboxes (:mod:`adapters.population.sandbox`,
:mod:`adapters.business.sandbox`) with their default behaviour (no
misbehaviour), on 127.0.0.1. The NGSP peer accepts the bench gateway's
consumer key and secret and holds ``--businesses`` generated businesses, so a
cold-cache run can ask for a different valid tax code every time. SIGTERM stops
the peer cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence

from aiohttp import web
from pydantic import SecretStr

from adapters.business.sandbox import NgspSandboxConfig
from adapters.business.sandbox import start_sandbox as start_ngsp
from adapters.population.sandbox import start_sandbox as start_population
from adapters.population.sandbox_config import PopulationSandboxConfig
from gateway.signals import wait_for_stop

#: The bench's NGSP credentials (dev-only values, the same as the embedded default's).
BENCH_CONSUMER_KEY = "lienthong-sandbox"
BENCH_CONSUMER_SECRET = "ngsp-sandbox-consumer-secret"
#: The NGSP sandbox's seed for generated businesses (bench.scenarios derives the same codes).
BENCH_BUSINESS_SEED = 1801


def ngsp_config(businesses: int) -> NgspSandboxConfig:
    """The NGSP sandbox the bench gateway talks to."""
    return NgspSandboxConfig(
        consumer_key=BENCH_CONSUMER_KEY,
        consumer_secret=SecretStr(BENCH_CONSUMER_SECRET),
        generated_count=businesses,
        seed=BENCH_BUSINESS_SEED,
    )


async def _serve(kind: str, port: int, businesses: int) -> None:
    runner: web.AppRunner
    if kind == "population":
        runner, _ = await start_population(PopulationSandboxConfig(), "127.0.0.1", port)
    else:
        runner, _ = await start_ngsp(ngsp_config(businesses), "127.0.0.1", port)
    try:
        await wait_for_stop()
    finally:
        await runner.cleanup()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.peer", description=__doc__)
    parser.add_argument("kind", choices=("population", "ngsp"))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--businesses", type=int, default=100, help="generated NGSP businesses")
    args = parser.parse_args(argv)
    asyncio.run(_serve(args.kind, args.port, args.businesses))


if __name__ == "__main__":
    main()
