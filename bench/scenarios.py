"""The benchmark scenarios: each is targets + a request factory, measured against baselines.

To add one (payment callbacks, audit on/off…): build its :class:`~bench.targets.Target`
values, measure them with :meth:`BenchStack.measure`, state the comparisons, and
register the function in :data:`SCENARIOS`.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.request import Request, urlopen

from bench.figures import Comparison, Figures, ratio
from bench.loadgen import ClosedLoop, OpenLoop, PreparedRequest
from bench.peer import BENCH_CONSUMER_KEY, BENCH_CONSUMER_SECRET
from bench.stack import (
    BENCH_CLIENT_ID,
    BENCH_CLIENT_SECRET,
    GATEWAY,
    NGSP,
    POPULATION,
    PROXY,
    BenchStack,
)
from bench.targets import (
    Replayed,
    SignedRequests,
    Target,
    bench_citizens,
    bench_tax_codes,
    lookup_envelopes,
    soap_requests,
    verify_body,
)

#: The project's targets (issue #2).
CPU_RATIO_TARGET = 1.5
P99_ADDED_TARGET_MS = 5.0
SOAP_PATH = "/dancu/ws"
LOOKUP_PATH = "/apiCSDLDKDN/1.0/chiTietDoanhNghiep"


@dataclass
class ScenarioReport:
    """Everything one scenario measured, compared and noticed."""

    name: str
    title: str
    figures: list[Figures] = field(default_factory=list)
    comparisons: list[Comparison] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def find(self, target: str, mode: str) -> Figures | None:
        return next((f for f in self.figures if f.target == target and f.mode == mode), None)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "figures": [f.as_json() for f in self.figures],
            "comparisons": [c.as_json() for c in self.comparisons],
            "notes": self.notes,
        }


def _saturation(stack: BenchStack) -> ClosedLoop:
    s = stack.settings
    return ClosedLoop(workers=s.workers, duration=s.duration, max_requests=s.max_requests)


def _fixed_rate(stack: BenchStack, rate: float) -> OpenLoop:
    s = stack.settings
    duration = min(s.duration, s.max_requests / rate)
    return OpenLoop(rate=rate, duration=duration)


def _signed(method: str, urls: list[str], bodies: list[bytes], *, distinct: bool = False,
            content_type: str | None = "application/json") -> SignedRequests:
    return SignedRequests(method, tuple(urls), tuple(bodies), BENCH_CLIENT_ID, BENCH_CLIENT_SECRET,
                          content_type=content_type, distinct=distinct)


# --- issue #2: signed citizen verifications ------------------------------------------------


def verification(stack: BenchStack) -> ScenarioReport:
    """Signed verifications: gateway vs straight to the sandbox vs through the minimal proxy."""
    report = ScenarioReport(
        "verification", "Signed citizen verifications (POST /v1/citizens/verify)"
    )
    citizens = bench_citizens()
    envelopes, soap_action = lookup_envelopes(citizens)
    direct = Target(
        "direct", soap_requests(stack.url(POPULATION) + SOAP_PATH, envelopes, soap_action),
        (POPULATION,),
    )
    proxy = Target(
        "proxy", soap_requests(stack.url(PROXY) + SOAP_PATH, envelopes, soap_action),
        (PROXY, POPULATION),
    )
    saturation = "saturation"
    for target in (direct, proxy):
        report.figures.append(stack.measure(report.name, target, _saturation(stack), saturation))
    if not stack.has_gateway:
        report.notes.append("gateway did not start: only the baselines were measured")
        return report
    gateway = Target(
        "gateway",
        _signed("POST", [stack.url(GATEWAY) + "/v1/citizens/verify"],
                [verify_body(c) for c in citizens]),
        (GATEWAY, POPULATION),
    )
    gw = stack.measure(report.name, gateway, _saturation(stack), saturation)
    report.figures.append(gw)
    rate = gw.per_second * stack.settings.half_saturation
    half = f"fixed {rate:.0f}/s"
    if not math.isfinite(rate) or rate <= 0:
        report.notes.append("the gateway answered nothing: no fixed-rate run")
        return report
    gw_half = stack.measure(report.name, gateway, _fixed_rate(stack, rate), half)
    direct_half = stack.measure(report.name, direct, _fixed_rate(stack, rate), half)
    report.figures += [gw_half, direct_half]
    d, p = report.find("direct", saturation), report.find("proxy", saturation)
    assert d is not None
    assert p is not None
    report.comparisons += [
        Comparison("throughput gateway / direct", ratio(gw.per_second, d.per_second), "×"),
        Comparison("throughput gateway / proxy", ratio(gw.per_second, p.per_second), "×"),
        Comparison("throughput proxy / direct", ratio(p.per_second, d.per_second), "×"),
        Comparison.at_most(
            "gateway CPU per verification / proxy CPU per request",
            ratio(gw.cpu_ms(GATEWAY), p.cpu_ms(PROXY)), CPU_RATIO_TARGET, "×",
        ),
        Comparison.below(
            f"p99 added by the gateway at {stack.settings.half_saturation:.0%} of saturation",
            gw_half.p99_ms - direct_half.p99_ms, P99_ADDED_TARGET_MS, "ms",
        ),
    ]
    return report


# --- issue #3: business lookups, cold and warm cache -----------------------------------------


def ngsp_token(base_url: str) -> str:
    """One NGSP access token from the sandbox peer (Basic consumer key:secret)."""
    credentials = base64.b64encode(f"{BENCH_CONSUMER_KEY}:{BENCH_CONSUMER_SECRET}".encode())
    request = Request(  # noqa: S310 - a loopback URL the bench built
        base_url + "/token",
        data=b"grant_type=client_credentials",
        headers={
            "Authorization": f"Basic {credentials.decode()}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
        method="POST",
    )
    with urlopen(request, timeout=10) as reply:  # noqa: S310
        token = json.load(reply)["access_token"]
    assert isinstance(token, str)
    return token


def business(stack: BenchStack) -> ScenarioReport:
    """Business lookups through the gateway, cold and warm cache, vs straight to the sandbox."""
    report = ScenarioReport("business", "Business lookups (GET /v1/businesses/{tax_code})")
    codes = bench_tax_codes(stack.settings.businesses)
    token = ngsp_token(stack.url(NGSP))
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    base = stack.url(NGSP) + LOOKUP_PATH
    direct = Target(
        "direct",
        Replayed(tuple(PreparedRequest("GET", f"{base}?msdn={c}", headers) for c in codes[:512])),
        (NGSP,),
    )
    report.figures.append(stack.measure(report.name, direct, _saturation(stack), "saturation"))
    if not stack.has_gateway:
        report.notes.append("gateway did not start: only the baseline was measured")
        return report
    lookup = stack.url(GATEWAY) + "/v1/businesses/"
    warm = Target(
        "gateway", _signed("GET", [lookup + codes[0]], [b""], content_type=None), (GATEWAY, NGSP)
    )
    warm_figures = stack.measure(report.name, warm, _saturation(stack), "warm cache")
    # Cold: every request a tax code the gateway has never asked for (codes[0] was the warm one).
    cold = Target(
        "gateway",
        _signed("GET", [lookup + c for c in codes[1:]], [b""], distinct=True, content_type=None),
        (GATEWAY, NGSP),
    )
    cold_figures = stack.measure(report.name, cold, _saturation(stack), "cold cache")
    report.figures += [cold_figures, warm_figures]
    if cold_figures.requests + stack.settings.warmup_requests >= len(codes) - 1:
        report.notes.append(
            "the cold run used up every distinct tax code before its time was up (count-bounded)"
        )
    d = report.figures[0]
    report.comparisons += [
        Comparison("throughput gateway cold / direct", ratio(cold_figures.per_second,
                                                             d.per_second), "×"),
        Comparison("throughput gateway warm / direct", ratio(warm_figures.per_second,
                                                             d.per_second), "×"),
        Comparison("throughput gateway warm / cold", ratio(warm_figures.per_second,
                                                           cold_figures.per_second), "×"),
    ]
    return report


Scenario = Callable[[BenchStack], ScenarioReport]
SCENARIOS: dict[str, Scenario] = {"verification": verification, "business": business}
