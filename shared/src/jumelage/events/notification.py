"""Events produced by the notification service (source ``/services/notification``)."""

__all__: list[str] = []
