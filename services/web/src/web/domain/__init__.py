"""Pure: what the pages show, worked out from what the services answered (no I/O, no framework)."""
