#!/usr/bin/env bash
# Creates one role and one database per Jumelage service, the role owning its
# database. Run once by the official postgres image from
# /docker-entrypoint-initdb.d when the data directory is first initialised
# (it is not re-run on an existing volume: `docker compose down -v` to redo).
#
# Each role's password comes from <SERVICE>_DB_PASSWORD (docker-compose.yml
# passes them from .env), the same variable the service's DATABASE_URL uses;
# no default, and never on a command line (psql reads it with \getenv).
#
# No `set -u`: the entrypoint sources this file when it is not executable,
# and options set here would then leak into the entrypoint.
set -e

for service in convention scheduling notification; do
    variable="$(printf '%s' "${service}" | tr '[:lower:]' '[:upper:]')_DB_PASSWORD"
    if [ -z "${!variable}" ]; then
        echo "init-databases: ${variable} is not set" >&2
        exit 1
    fi
    echo "init-databases: role and database '${service}'"
    psql -v ON_ERROR_STOP=1 \
         --username "${POSTGRES_USER:-postgres}" \
         --dbname "${POSTGRES_DB:-${POSTGRES_USER:-postgres}}" \
         -v name="${service}" -v password_variable="${variable}" <<'EOSQL'
\getenv password :password_variable
CREATE ROLE :"name" WITH LOGIN PASSWORD :'password';
CREATE DATABASE :"name" WITH OWNER :"name" ENCODING 'UTF8';
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
GRANT ALL PRIVILEGES ON DATABASE :"name" TO :"name";
EOSQL
done
