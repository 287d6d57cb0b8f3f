"""Benchmarks that print their figures as ratios against baselines run in the same invocation.

``make bench`` (``python -m bench``) starts each server in its own process — the
sandbox peers, a minimal aiohttp pass-through proxy and the gateway — pinned to
CPU 0, and drives them from a load generator process pinned to CPU 1. A
:class:`~bench.scenarios.Scenario` is a set of targets plus a request factory;
adding one (payment callbacks, audit on/off) means writing a factory and a
function that measures it (see :mod:`bench.scenarios`).

Nothing here is a test: tests never assert on wall-clock time. The figures are
printed, compared with the project's targets as PASS/MISS text, and written to
``var/bench-<timestamp>.json``.
"""
