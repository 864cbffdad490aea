#!/usr/bin/env bash
# Prepares this folder for `docker-compose up`: compose/.env from example.env, with a random
# value for every password left empty in it, and the secret files compose.yml mounts, each
# random and readable only by who needs it. Never overwrites what exists, so it is safe to run
# again (after an upgrade adds a secret, say).
#
#   compose/setup.sh            as root, from anywhere
#
#   .env                        NATS passwords (one per service)
#   secrets/admin_token         the organizer token        (uid 65534, 0400: the API alone)
#   secrets/postgres_password   PostgreSQL's password      (0444: the database server and the API)
#   secrets/mongo_password      MongoDB's password         (0444: the store, the API, the evaluator)
#   secrets/receipt_signing_key the Ed25519 seed receipts  (0400, root: the evaluator alone)
#                               are signed with, 64 hex digits (docs/receipts.md)
#   secrets/grafana_password    Grafana's admin password   (0444: Grafana, `monitoring` profile)
#
# secrets/ itself is 0700: on the host only root reads them; the engine bind-mounts each file
# into its containers at /run/secrets/, where the services' own users must read them.
set -euo pipefail
cd "$(dirname "$0")"
log() { printf '[compose-setup] %s\n' "$*" >&2; }

random() { head -c 24 /dev/urandom | base64 | tr -d '/+=' ; }

if [ ! -e .env ]; then
  cp example.env .env
  chmod 0600 .env
  log "wrote .env from example.env: review its paths and ports"
fi
# Every `*_PASSWORD=` line with nothing after the `=` gets a random value.
for var in $(sed -n 's/^\(DARKROOM_[A-Z_]*_PASSWORD\)=$/\1/p' .env); do
  sed -i "s|^$var=\$|$var=$(random)|" .env
  log "set $var in .env"
done

mkdir -p secrets
chmod 0700 secrets
secret() { # name mode [owner]
  local file="secrets/$1"
  if [ ! -e "$file" ]; then
    (umask 077; random >"$file")
    log "wrote $file"
  fi
  chmod "$2" "$file"
  [ -z "${3:-}" ] || chown "$3" "$file"
}
secret admin_token 0400 65534
secret postgres_password 0444
secret mongo_password 0444
secret grafana_password 0444
# Not a password but a key: 32 random bytes as 64 hex digits. Never replaced, so receipts keep
# verifying under the key listed at /api/v1/keys.
if [ ! -e secrets/receipt_signing_key ]; then
  (umask 077; od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >secrets/receipt_signing_key)
  log "wrote secrets/receipt_signing_key"
fi
chmod 0400 secrets/receipt_signing_key
