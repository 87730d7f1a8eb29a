"""The web app emits no events: it owns no domain data. It reads every event,
for live updates only (``subscribers.py``)."""
