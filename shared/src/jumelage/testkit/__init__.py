"""The test kit: what the tests and the scripts (``make run``, ``bench``, ``faults``) use to
stand up and drive the system. One module per piece:

- ``waiting``    eventually / wait_until and the scaled limits (``JUMELAGE_TEST_TIMEOUT_SCALE``)
- ``ports``      free loopback ports
- ``servers``    the broker and PostgreSQL: discovery (testcontainers with a Docker engine,
                 else the env/loopback servers, never a silent skip), per-test databases,
                 topology clean-up, declared namespaces reused (``NamespacePool``), and a
                 TCP proxy to cut a client off
- ``mail``       the SMTP catcher (aiosmtpd) and an SMTP sink process
- ``client``     tokens, ``ActingAs`` (httpx auth) and ``ServicesClient`` (the three APIs over HTTP)
- ``processes``  ``ServiceProcess``: ``python -m <service> serve`` as a child process
- ``tap``        ``EventTap``: every event on the exchange, as the outside world sees it
- ``services``   a service in this process (``running``), its settings, publishing to it,
                 watching its consumers' deliveries
- ``schema``     migrated tables against the mapped ones, a database's whole definition,
                 alembic downgrades
- ``templates``  a service's database migrated once per process, copied to each test's
                 (``migrated``: what ``running`` migrates with)
- ``plugin``     the pytest plugin (fixtures ``amqp_url``, ``postgres_url``, ``database``,
                 ``namespace``, ``declared_namespace``): the only module that imports pytest

Nothing here but ``plugin`` imports a test-only package at import time (testcontainers
only when a Docker engine answers, aiosmtpd only when a catcher starts), so the scripts
can use the kit where only the services are installed (``tests/test_testkit_imports.py``).
"""
