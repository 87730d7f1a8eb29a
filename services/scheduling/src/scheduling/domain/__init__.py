"""The scheduling service's domain: pure Python, no I/O."""
