#!/usr/bin/env bash
# Creates one role and one database per Jumelage service, the role owning its
# database. Run once by the official postgres image from
# /docker-entrypoint-initdb.d when the data directory is first initialised
# (it is not re-run on an existing volume: `docker compose down -v` to redo).
#
# Local use only: each password equals the role name, matching the
# DATABASE_URL values in docker-compose.yml.
#
# No `set -u`: the entrypoint sources this file when it is not executable,
# and options set here would then leak into the entrypoint.
set -e

for service in convention scheduling notification; do
    echo "init-databases: role and database '${service}'"
    psql -v ON_ERROR_STOP=1 \
         --username "${POSTGRES_USER:-postgres}" \
         --dbname "${POSTGRES_DB:-${POSTGRES_USER:-postgres}}" \
         -v name="${service}" <<'EOSQL'
CREATE ROLE :"name" WITH LOGIN PASSWORD :'name';
CREATE DATABASE :"name" WITH OWNER :"name" ENCODING 'UTF8';
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
GRANT ALL PRIVILEGES ON DATABASE :"name" TO :"name";
EOSQL
done
