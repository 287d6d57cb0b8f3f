"""Tests of the running server: signals, draining, reloads, slow and broken clients."""
