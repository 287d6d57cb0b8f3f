"""VNPay 2.1.0: signed pay URLs, GET IPNs, ``querydr`` (HMAC-SHA512)."""
