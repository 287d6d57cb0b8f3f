"""Tests of the quarterly report (gateway/reports)."""
