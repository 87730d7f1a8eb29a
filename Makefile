.PHONY: install run test test-fast asyncapi snapshots faults bench bench-web messages
install:  ## create .venv with everything installed
	scripts/bootstrap.sh
run:      ## run the three services against the local broker (SQLite by default)
	scripts/bootstrap.sh && scripts/ensure-servers.sh && .venv/bin/python scripts/run.py
test:     ## the whole test suite, on SQLite and PostgreSQL, over the real broker
	scripts/test.sh
test-fast: ## the domain and handler logic, no broker, PostgreSQL or process (tests marked fast; under 30 s)
	@# Bytecode caches kept even where PYTHONDONTWRITEBYTECODE is set: recompiling and re-rewriting
	@# the asserts of every test module costs 20 s a run. A test stuck a minute prints every stack.
	@# Two workers, one file each (as make test): 26 s where one process took 40 s (886 tests, quiet machine).
	scripts/bootstrap.sh && PYTHONDONTWRITEBYTECODE= .venv/bin/pytest -m fast -q -n 2 --dist loadfile --no-loadscope-reorder -o faulthandler_timeout=60
asyncapi: ## print each service's AsyncAPI document
	for s in convention scheduling notification; do .venv/bin/python -m $$s asyncapi; done
snapshots: ## regenerate the event JSON-schema snapshots after an intended contract change
	.venv/bin/python -m jumelage.events.snapshot
faults:   ## fault scenarios against real processes (restarts the local RabbitMQ app once)
	.venv/bin/python scripts/faults.py
bench:    ## throughput and latency figures beside raw aio-pika/asyncpg baselines
	.venv/bin/python scripts/bench.py
bench-web: ## server time of a convention's page and of a 200-case mission's page, beside their raw API reads
	.venv/bin/python scripts/bench_web.py
messages: ## extract the web app's messages and update its French and Arabic catalogues
	cd services/web && ../../.venv/bin/pybabel extract -F babel.cfg -k N_ --no-location --omit-header -o messages.pot . \
	  && for l in fr ar; do ../../.venv/bin/pybabel update --no-fuzzy-matching --no-wrap -l $$l -i messages.pot -d src/web/locales \
	  || ../../.venv/bin/pybabel init -l $$l -i messages.pot -d src/web/locales; done; rm -f messages.pot
