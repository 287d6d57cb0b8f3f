"""``row_object`` in ``malformed_row``: how both providers read one day-list row."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.errors import UpstreamBadReply
from adapters.payment.base import malformed_row, row_object


@pytest.mark.parametrize("raw", [["MaThamChieu"], "MaThamChieu", None, 7])
def test_a_row_that_is_no_object_is_a_bad_reply(raw: Any) -> None:
    with pytest.raises(UpstreamBadReply) as caught, malformed_row("dvcqg"):
        row_object(raw).get("MaThamChieu")
    assert caught.value.upstream == "dvcqg"
    assert caught.value.operation == "list_transactions"


def test_a_missing_key_is_a_bad_reply() -> None:
    with pytest.raises(UpstreamBadReply), malformed_row("vnpay"):
        row_object({"vnp_Amount": "100"})["vnp_TxnRef"]


def test_an_object_row_is_read_as_it_is() -> None:
    raw = {"vnp_TxnRef": "ABC123"}
    assert row_object(raw) is raw
