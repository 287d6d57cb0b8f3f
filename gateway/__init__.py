"""lienthong's city-facing service: inbound API, clients and rights, payments, monitoring."""
