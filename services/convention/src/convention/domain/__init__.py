"""The convention service's domain: pure Python, no I/O."""
