"""The message bus: a service's handlers with their dependencies handed in once.

A handler is a plain function of a message (a command, a query or an incoming
event) and a unit of work, plus whatever else it names among its keyword
parameters (``clock``, ``renderer``, ...). The composition root (each service's
``app.py``) builds one ``MessageBus`` with the handlers and the dependencies; the
API and the consumer only say *what* to handle and *in which* unit of work:

    bus = MessageBus({RegisterInstitution: institutions.register}, clock=clock)
    await bus.handle(RegisterInstitution(...), uow)

(cosmicpython chapter 13, "Dependency Injection (and Bootstrapping)").
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import Any

Handler = Callable[..., Awaitable[Any]]


def inject(handler: Handler, dependencies: Mapping[str, Any]) -> Handler:
    """``handler`` with the dependencies it names bound; the two first parameters
    (the message and the unit of work) stay for the caller. A parameter it names
    that is neither is an error at start-up, not at the first message."""
    params = list(inspect.signature(handler).parameters.values())[2:]
    missing = [p.name for p in params if p.default is inspect.Parameter.empty and p.name not in dependencies]
    if missing:
        raise TypeError(f"{handler.__module__}.{handler.__qualname__} needs {', '.join(missing)}, "
                        f"which the composition root does not provide (it has {', '.join(sorted(dependencies))})")
    bound = {p.name: dependencies[p.name] for p in params if p.name in dependencies}
    return partial(handler, **bound) if bound else handler


class MessageBus:
    """Dispatches a message to the one handler registered for its type."""

    def __init__(self, handlers: Mapping[type, Handler], **dependencies: Any) -> None:
        self.dependencies = dependencies
        self._handlers = {kind: inject(h, dependencies) for kind, h in handlers.items()}

    def __contains__(self, kind: type) -> bool:
        return kind in self._handlers

    def handler(self, kind: type) -> Handler:
        try:
            return self._handlers[kind]
        except KeyError:
            raise LookupError(f"no handler for {kind.__name__}") from None

    async def handle(self, message: Any, uow: Any) -> Any:
        return await self.handler(type(message))(message, uow)
