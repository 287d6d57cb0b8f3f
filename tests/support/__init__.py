"""Helpers shared by the whole suite: the one fake clock (clock.py) and the one gateway
harness (gateway.py). No test module defines either again (tests/test_architecture.py)."""
