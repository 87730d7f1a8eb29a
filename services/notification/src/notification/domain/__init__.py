"""The notification service's domain: pure Python, no I/O."""
