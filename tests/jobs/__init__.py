"""Outbox, worker and webhook endpoint tests."""
