"""Reliable messaging: topology, transactional outbox and relay, idempotent consumer."""
