# Every target bootstraps .venv from both locks (requirements.txt: what runs; requirements-dev.txt: test and
# lint tools) when it is missing or stale. Stale means: the CONTENT of a lock changed. The stamp's name carries
# a hash of both locks' content and the stamp rule has no prerequisites, so a new mtime (git checkout, touch)
# never re-installs, and any changed byte in either lock does.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
LOCKS := requirements.txt requirements-dev.txt
STAMP := $(VENV)/.installed-$(shell md5sum $(LOCKS) | md5sum | cut -c1-12)
# Optional local settings (see .env.example).
ifneq (,$(wildcard .env))
include .env
export $(shell sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=.*/\1/p' .env)
endif
export PYTHONPATH := $(CURDIR)/plugins
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: help venv demo start stop status clean test test-unit lint bench lock drift-alert run compose-parser new-pipeline chromium prometheus observe reproduce \
	prod-local prod-stop prod-status redis-server test-topology

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(STAMP):
	@echo "bootstrapping $(VENV) from $(LOCKS) ..."
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check uv==0.13.9
	@$(VENV)/bin/uv pip install -q --python $(PY) $(addprefix -r ,$(LOCKS))
	@rm -f $(VENV)/.installed-*; touch $(STAMP)

venv: $(STAMP) ## create or update .venv from both lock files (runtime + dev)

demo: $(STAMP) ## start the stack (Postgres, Airflow :8080, MLflow :5000) and replay Jan -> Jul 2013; again: repairs
	@$(PY) -m mlcycle.tools.demo

PIPELINE ?= flights
REASON ?= drift alert raised by hand (make drift-alert)
drift-alert: $(STAMP) ## raise drift.<PIPELINE> via the REST API: make drift-alert PIPELINE=flights REASON="..."
	@$(PY) -m mlcycle.tools.alerts $(PIPELINE) --reason "$(REASON)"

run: $(STAMP) ## start a DAG run and follow it: make run DAG=ingest_flights DATE=2013-01-05 [ARGS="--param k=v --unpause"]
	@test -n "$(DAG)" || { echo 'usage: make run DAG=<dag_id> [DATE=YYYY-MM-DD] [ARGS="--param key=value ..."]  (see: python -m mlcycle.tools.trigger --help)'; exit 2; }
	@$(PY) -m mlcycle.tools.trigger $(DAG) $(if $(DATE),--date $(DATE)) $(ARGS)

reproduce: $(STAMP) ## retrain a model version from its lineage and prove it identical: make reproduce PIPELINE=flights VERSION=3
	@test -n "$(VERSION)" || { echo 'usage: make reproduce PIPELINE=<pipeline> VERSION=<n> [ARGS=--strict-env]  (default PIPELINE=flights)'; exit 2; }
	@$(PY) -m mlcycle.tools.reproduce $(PIPELINE) $(VERSION) $(ARGS)

new-pipeline: $(STAMP) ## scaffold a pipeline: make new-pipeline NAME=sales [CSV=sample.csv] [ARGS="--label y"]
	@test -n "$(NAME)" || { echo 'usage: make new-pipeline NAME=<name> [CSV=<sample.csv>] [ARGS="--label <column> ..."]'; exit 2; }
	@$(PY) -m mlcycle.tools.scaffold $(NAME) $(if $(CSV),--from-csv $(CSV)) $(ARGS)

start: $(STAMP) ## start only the services (Postgres, MLflow, Airflow), without the demo; again: repairs
	@$(PY) -m mlcycle.tools.runtime start

stop: $(STAMP) ## stop the supervisor and every component (Postgres, MLflow, Airflow)
	@$(PY) -m mlcycle.tools.runtime stop

status: $(STAMP) ## each component: pid, up since, restarts, health (exit 1 when one is down)
	@$(PY) -m mlcycle.tools.runtime status

clean: stop ## stop everything and delete all state (.state/)
	rm -rf .state

# tests/topology runs beside the main session, in a pytest process of its own: most of both is waiting on
# schedulers, retries and heartbeats, so side by side they take little longer than the main session alone
TOPOLOGY_LOG := .state/test-topology.log
test: $(STAMP) lint compose-parser chromium prometheus redis-server ## lint, then unit, DAG, integration, end-to-end and production-topology tests
	@mkdir -p .state
	@echo "tests/topology starts beside this session (its output: $(TOPOLOGY_LOG))"
	@$(PY) -m pytest tests/topology -p no:cacheprovider --durations=10 > $(TOPOLOGY_LOG) 2>&1 & topology=$$!; \
	trap 'kill -INT $$topology 2>/dev/null; wait $$topology' INT TERM; \
	$(PY) -m pytest; main=$$?; \
	echo "== waiting for tests/topology =="; wait $$topology; topo=$$?; \
	if [ $$topo -eq 0 ]; then tail -n 14 $(TOPOLOGY_LOG); else cat $(TOPOLOGY_LOG); fi; \
	exit $$(( main || topo ))

compose-parser: ## Debian's docker-compose, to validate docker-compose.yaml without a Docker engine
	@command -v docker-compose >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null)

chromium: ## Debian's chromium, for the browser tests (Playwright drives it)
	@command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

prometheus: ## Debian's Prometheus and promtool (make observe; the metrics tests)
	@command -v prometheus >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null)

observe: $(STAMP) prometheus ## the metrics exporter and Prometheus (:9090) scraping it, with the alert rules; Ctrl-C stops
	@$(PY) -m mlcycle.tools.observe run

redis-server: ## Debian's redis-server, the Celery broker of the native production topology
	@command -v redis-server >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null)

test-topology: $(STAMP) redis-server ## only the native production topology: the lifecycle on Celery/S3 and five faults
	@$(PY) -m pytest tests/topology

prod-local: $(STAMP) redis-server ## docker-compose.yaml's topology as native processes (Celery, Redis, S3 stand-in, MLflow)
	@$(PY) -m mlcycle.tools.topology start

prod-stop: $(STAMP) ## stop the native production topology
	@$(PY) -m mlcycle.tools.topology stop

prod-status: $(STAMP) ## each component of the native production topology: ok or DOWN
	@$(PY) -m mlcycle.tools.topology status

test-unit: $(STAMP) ## only the fast tests (no scheduler)
	@$(PY) -m pytest tests/unit tests/dags

lint: $(STAMP) ## ruff, including Airflow's AIR rules; actionlint on the GitHub Actions workflow
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/actionlint .github/workflows/*.yml

bench: $(STAMP) ## benchmark figures (parse time, ingest+validate vs plain script)
	@$(PY) -m bench

# The runtime lock first: requirements-dev.in is constrained by it (-c requirements.txt).
lock: $(STAMP) ## re-compile requirements.txt and requirements-dev.txt from their .in files
	@$(VENV)/bin/uv pip compile -q requirements.in --python-version 3.11 -o requirements.txt
	@$(VENV)/bin/uv pip compile -q requirements-dev.in --python-version 3.11 -o requirements-dev.txt
