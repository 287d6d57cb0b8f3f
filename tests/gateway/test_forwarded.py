"""The client address from ``X-Forwarded-For``: only from trusted proxies, rightmost first."""

from __future__ import annotations

import pytest

from adapters.networks import networks
from gateway.auth.forwarded import MalformedForwardedFor, forwarded_client

PROXY = networks(["127.0.0.1/32"])
TWO_PROXIES = networks(["127.0.0.1/32", "127.0.0.5"])


def test_untrusted_peer_keeps_its_own_address() -> None:
    """A peer outside the list is the client, whatever header it sends."""
    assert forwarded_client("127.0.0.2", ["127.0.0.9"], PROXY) == "127.0.0.2"
    assert forwarded_client("127.0.0.1", ["127.0.0.9"], ()) == "127.0.0.1"


def test_trusted_peer_names_the_rightmost_untrusted_entry() -> None:
    """From a trusted proxy, the rightmost entry that is not itself a trusted proxy."""
    assert forwarded_client("127.0.0.1", ["127.0.0.9"], PROXY) == "127.0.0.9"
    assert forwarded_client("127.0.0.1", ["127.0.0.9, 127.0.0.5"], PROXY) == "127.0.0.5"
    assert forwarded_client("127.0.0.1", ["127.0.0.9, 127.0.0.5"], TWO_PROXIES) == "127.0.0.9"


def test_several_header_lines_read_as_one_list() -> None:
    """Two ``X-Forwarded-For`` lines are one list, in order."""
    assert forwarded_client("127.0.0.1", ["127.0.0.9", "127.0.0.5"], TWO_PROXIES) == "127.0.0.9"


def test_a_claim_left_of_the_answer_is_not_read() -> None:
    """Garbage the client put in front of the proxy's entry does not matter."""
    assert forwarded_client("127.0.0.1", ["not-an-address, 127.0.0.9"], PROXY) == "127.0.0.9"


def test_without_header_or_with_only_proxies() -> None:
    """No header: the peer; only trusted proxies: the leftmost of them."""
    assert forwarded_client("127.0.0.1", [], PROXY) == "127.0.0.1"
    assert forwarded_client("127.0.0.1", ["127.0.0.5, 127.0.0.1"], TWO_PROXIES) == "127.0.0.5"


def test_ipv6_entries_and_mapped_peers() -> None:
    """Bracketed IPv6 entries parse; an IPv4-mapped peer matches its IPv4 network."""
    assert forwarded_client("::ffff:127.0.0.1", ["[::1]"], PROXY) == "::1"
    assert forwarded_client("::1", ["127.0.0.9"], networks(["::1/128"])) == "127.0.0.9"


@pytest.mark.parametrize("header", ["", "127.0.0.9, ", "garbage", "127.0.0.9:443", "127.0.0.300"])
def test_malformed_entry_from_a_trusted_proxy_raises(header: str) -> None:
    """An entry the answer depends on is no address: an error (the caller uses the peer)."""
    with pytest.raises(MalformedForwardedFor):
        forwarded_client("127.0.0.1", [header], PROXY)
