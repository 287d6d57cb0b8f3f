"""Development only: the demo, the embedded sandboxes, the dev PKI (refused in production)."""
