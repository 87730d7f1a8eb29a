"""Jumelage notification service: who is told what, in their language, by email, SMS and webhook."""
