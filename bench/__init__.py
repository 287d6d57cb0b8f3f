"""Benchmarks that print their figures as ratios against baselines run in the same invocation.

``make bench`` (``python -m bench``) starts each server in its own process — the
sandbox peers, a minimal aiohttp pass-through proxy and the gateway — pinned to
CPU 0, and drives them from a load generator process pinned to CPU 1. A
:class:`~bench.scenario_kit.Scenario` is a set of targets plus a request factory,
measured beside a baseline of the same run: verifications and business lookups
(:mod:`bench.scenarios`), audit on vs off (:mod:`bench.audit_scenario`), payment
callbacks on SQLite and PostgreSQL vs a bare insert loop
(:mod:`bench.callback_scenario`), and, with ``--reconcile``, reconciliation vs a
bulk insert (:mod:`bench.reconcile_scenario`). Scenarios that need another
gateway (audit off, payments on, another store) start it with
:meth:`~bench.stack.BenchStack.start_gateway` and stop it by its pid.

Nothing here is a test: tests never assert on wall-clock time. The figures are
printed, compared with the project's targets as PASS/MISS text, and written to
``var/bench-<timestamp>.json``.
"""
