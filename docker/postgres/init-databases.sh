#!/bin/bash
# Runs once, on the first start of an empty Postgres volume: one role and one database each for
# Airflow's metadata, MLflow's tracking store and MLflow's users and permissions (its auth app).
# Passwords come from the container's environment.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
     -v airflow_pw="$AIRFLOW_DB_PASSWORD" -v mlflow_pw="$MLFLOW_DB_PASSWORD" \
     -v mlflow_auth_pw="$MLFLOW_AUTH_DB_PASSWORD" <<'SQL'
CREATE ROLE airflow LOGIN PASSWORD :'airflow_pw';
CREATE DATABASE airflow OWNER airflow;
CREATE ROLE mlflow LOGIN PASSWORD :'mlflow_pw';
CREATE DATABASE mlflow OWNER mlflow;
CREATE ROLE mlflow_auth LOGIN PASSWORD :'mlflow_auth_pw';
CREATE DATABASE mlflow_auth OWNER mlflow_auth;
SQL
