"""/metrics as Prometheus scrapes it: text or OpenMetrics by Accept, gzip, the build's identity."""

from __future__ import annotations

import gzip
from importlib import metadata
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om
from prometheus_client.parser import text_string_to_metric_families as parse_text

from gateway import build_info
from tests.support.gateway import Gateway


async def test_plain_scrape_is_the_text_format(gateway: Gateway) -> None:
    """Without an Accept header the answer is the classic text format, which parses."""
    async with gateway.session.get(gateway.url + "/metrics") as r:
        text = await r.text()
    assert r.status == 200
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    names = {family.name for family in parse_text(text)}
    assert "lienthong_requests" in names  # the parser drops a counter's _total


async def test_openmetrics_when_asked_for(gateway: Gateway) -> None:
    """Prometheus asking for OpenMetrics gets it, ending in # EOF, and it parses as such."""
    headers = {"Accept": "application/openmetrics-text;version=1.0.0,text/plain;q=0.5"}
    async with gateway.session.get(gateway.url + "/metrics", headers=headers) as r:
        text = await r.text()
    assert r.status == 200
    assert r.headers["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
    assert text.endswith("# EOF\n")
    families = {family.name: family for family in parse_om(text)}
    assert families["lienthong_build_info"].type == "gauge"


async def test_gzip_when_accepted(gateway: Gateway) -> None:
    """A scraper that accepts gzip gets a gzip body, which decompresses to the exposition."""
    async with aiohttp.ClientSession(auto_decompress=False) as raw:
        headers = {"Accept-Encoding": "gzip"}
        async with raw.get(gateway.url + "/metrics", headers=headers) as r:
            body = await r.read()
    assert r.status == 200
    assert r.headers["Content-Encoding"] == "gzip"
    text = gzip.decompress(body).decode()
    assert "# TYPE lienthong_build_info gauge" in text


async def test_build_info_names_this_version(gateway: Gateway) -> None:
    """lienthong_build_info carries the installed version and a commit label, value 1."""
    async with gateway.session.get(gateway.url + "/metrics") as r:
        text = await r.text()
    (family,) = [f for f in parse_text(text) if f.name == "lienthong_build_info"]
    (sample,) = family.samples
    assert sample.value == 1
    assert sample.labels["version"] == metadata.version("lienthong")
    assert sample.labels["commit"] == build_info.commit()


def test_commit_from_the_environment_then_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The deployer's variable wins over the build's file; junk and absence read 'unknown'."""
    file = tmp_path / "BUILD_COMMIT"
    monkeypatch.delenv(build_info.COMMIT_ENV, raising=False)
    assert build_info.commit(file) == "unknown"
    file.write_text("0123456789abcdef0123456789abcdef01234567\n")
    assert build_info.commit(file) == "0123456789abcdef0123456789abcdef01234567"
    monkeypatch.setenv(build_info.COMMIT_ENV, "v0.1.0-3-gabc1234")
    assert build_info.commit(file) == "v0.1.0-3-gabc1234"
    monkeypatch.setenv(build_info.COMMIT_ENV, 'x"} 1\nevil')
    assert build_info.commit(file) == "unknown"
