"""The store: ``tables.py`` (rows on SQLite or PostgreSQL), ``repositories.py``,
``unit_of_work.py`` (``SchedulingUnitOfWork``)."""
