"""Jumelage scheduling service: what happens on the ground during a mission."""
