"""Jumelage convention service: who agreed to what, and what each convention achieved."""
