"""Jumelage common package: contracts and plumbing shared by the three services.

It holds the event contract (``events``), the messaging core (``messaging``),
database, settings, logging and HTTP helpers. No service's business rules live here.
"""
