"""Events produced by the scheduling service (source ``/services/scheduling``)."""

__all__: list[str] = []
