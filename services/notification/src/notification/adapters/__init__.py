"""The outside world: e-mail, SMS and webhook senders, and template rendering."""
