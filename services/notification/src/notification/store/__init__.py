"""Persistence: tables, repositories and the unit of work."""
