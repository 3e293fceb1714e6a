#!/bin/sh
# Run once by the postgres image on an empty data volume: one database per service.
# (The migrate job also creates a missing database, so a service added later still works.)
set -eu
for name in ${HEYUN_DATABASES:-registry notify gateway}; do
  echo "creating database heyun_${name}"
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
       -c "CREATE DATABASE heyun_${name}"
done
