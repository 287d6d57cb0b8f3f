"""The national-system side of lienthong: one package per national system.

Each system package holds a client (the real wire protocol), a sandbox (a peer
speaking the same protocol on loopback) and its models. Shared here: the error
tree (:mod:`adapters.errors`), resilience, the HTTP session, OAuth2 tokens and
signing. Nothing in ``adapters`` imports ``gateway``: data flows one way.
"""
