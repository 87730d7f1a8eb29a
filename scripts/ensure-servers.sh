#!/usr/bin/env bash
# Make sure RabbitMQ and PostgreSQL answer. Servers named by AMQP_URL /
# POSTGRES_URL elsewhere are only checked; the loopback ones are started if down.
set -uo pipefail

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_port() { # host port name seconds
  for _ in $(seq 1 "$4"); do port_open "$1" "$2" && return 0; sleep 1; done
  echo "error: $3 is not reachable at $1:$2" >&2; return 1
}

hostport() { # URL default-port -> "host port"
  python3 - "$1" "$2" <<'PY'
import sys
from urllib.parse import urlsplit
u = urlsplit(sys.argv[1]); print(u.hostname or "127.0.0.1", u.port or sys.argv[2])
PY
}

read -r amqp_host amqp_port < <(hostport "${AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/}" 5672)
read -r pg_host pg_port < <(hostport "${POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432/test}" 5432)

status=0
if ! port_open "$amqp_host" "$amqp_port"; then
  if [[ "$amqp_host" == 127.0.0.1 || "$amqp_host" == localhost ]] && command -v rabbitmq-server >/dev/null; then
    echo "starting RabbitMQ"
    rabbitmq-server -detached >/dev/null 2>&1 || true
  fi
  wait_port "$amqp_host" "$amqp_port" RabbitMQ 90 || status=1
fi
if ! port_open "$pg_host" "$pg_port"; then
  if [[ "$pg_host" == 127.0.0.1 || "$pg_host" == localhost ]] && command -v pg_ctlcluster >/dev/null; then
    echo "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  fi
  wait_port "$pg_host" "$pg_port" PostgreSQL 60 || status=1
fi
exit $status
