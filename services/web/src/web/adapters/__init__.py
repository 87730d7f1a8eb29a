"""The outside world: the three services' APIs, the identity provider, the page renderer, languages, live updates."""
