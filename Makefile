# The command contract (README "Commands"): every target works from a fresh clone; each depends on
# `setup`, which is idempotent and only reinstalls when a requirements or lock file changed.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3.13 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
CONFIG ?= config/factory.yaml
OUT ?= cdk.out

# The pinned Node 22 and CDK CLI from node_modules come first: jsii and the CLI both run on it.
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/$(VENV)/bin:$(PATH)
export CDK_DISABLE_CLI_TELEMETRY := true
export AWS_EC2_METADATA_DISABLED := true
CDK := cdk --no-notices --no-version-reporting

TRAIN_OUT ?= build/local-run
DEFINITION_OUT ?= build/pipeline-definition.json

ENDPOINT_OUT ?= build/endpoint

.PHONY: help setup synth test bench clean train-local pipeline-definition synth-endpoint simulate-scaling monitor-local doctor catalog catalog-site

help:
	@echo "make setup                        install pinned Python and Node tooling (idempotent)"
	@echo "make synth [CONFIG=file] [OUT=dir] [TEAMS=a,b]  synthesize every team's (or those teams') factory, cdk-nag on"
	@echo "make test                         the whole offline test suite"
	@echo "make doctor [CONFIG=file] [PROFILES=acct=profile,...]  preflight every account the config deploys to (AWS credentials)"
	@echo "make train-local [MODEL=team/model] [OUT=dir]  that model's seed data: preprocess -> train -> evaluate here"
	@echo "make pipeline-definition [OUT=f]  the SageMaker Pipeline definition JSON, offline"
	@echo "make synth-endpoint MANIFEST=f [OUT=dir]  endpoint stack from a deploy manifest, offline"
	@echo "make simulate-scaling MANIFEST=f [JSON=1]  replay a traffic curve through the endpoint's scaling policies"
	@echo "make monitor-local CAPTURE=d BASELINE=d OUT=d  the drift/quality engine on data-capture files here"
	@echo "make catalog [QUERY=text] [TEAM=t] [JSON=1] [SOURCE=export.json] [PROFILE=p]  list/search the model catalog (live, or an export)"
	@echo "make catalog-site OUT=dir [SOURCE=export.json | LIVE=1] [PUBLISH=s3://bucket/prefix]  the static catalog site (default: the example export)"
	@echo "make bench                        the performance table quoted in the README"

setup: $(VENV)/.requirements.stamp $(VENV)/.optimized.stamp node_modules/.lock.stamp

$(VENV)/.requirements.stamp: requirements.txt requirements-dev.txt
	@"$(PYTHON)" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "setup: Python >= 3.11 is required (found " + sys.version.split()[0] + ")")'
	@test -x $(PY) || "$(PYTHON)" -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

# cdk.json runs the app with `python -O`: aws-cdk-lib's generated Python checks every argument's type again with
# typeguard under `if __debug__` (the jsii kernel checks them too), about 8 % of a 25-team synth. -O reads its
# own bytecode (*.opt-1.pyc), so the packages a synth imports are compiled for it once here: otherwise every
# run would recompile aws_cdk's 400 MB of sources (pip compiles only the non-optimized bytecode).
SYNTH_PACKAGES := aws_cdk cdk_nag constructs jsii typeguard cattrs attrs pydantic pydantic_core yaml
$(VENV)/.optimized.stamp: $(VENV)/.requirements.stamp
	$(PY) -O -m compileall -q -j 0 $$($(PY) -c 'import importlib.util, sys; \
	  print(*(p for name in sys.argv[1:] for p in importlib.util.find_spec(name).submodule_search_locations))' \
	  $(SYNTH_PACKAGES)) > /dev/null
	@touch $@

node_modules/.lock.stamp: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

synth: setup
	@$(PY) -m stacks.config "$(CONFIG)"
	$(CDK) synth --quiet --context config="$(CONFIG)" $(if $(TEAMS),--context teams="$(TEAMS)") --output "$(OUT)"

# two workers (pytest-xdist), one per core of the CI machine; the tests sharing an expensive fixture run on
# one worker (tests/scheduling.py); the fault-coverage figure gathers both
test: setup
	$(PY) -m pytest -n 2

# OUT is shared by several targets: each gives it its own default.
train-local: setup
	$(PY) scripts/train_local.py --config "$(CONFIG)" $(if $(MODEL),--model "$(MODEL)") \
	  --out "$(if $(filter command line environment,$(origin OUT)),$(OUT),$(TRAIN_OUT))"

pipeline-definition: setup
	env -u AWS_PROFILE -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN \
	  $(PY) pipelines/modelbuild/run_pipeline.py definition \
	  --out "$(if $(filter command line environment,$(origin OUT)),$(OUT),$(DEFINITION_OUT))"

synth-endpoint: setup
	@test -n "$(MANIFEST)" || { echo "synth-endpoint: MANIFEST=<deploy manifest JSON> is required" >&2; exit 2; }
	@$(PY) -m stacks.config.manifest "$(MANIFEST)"
	$(CDK) synth --quiet --app "$(PY) endpoint_app.py" --context manifest="$(MANIFEST)" \
	  --output "$(if $(filter command line environment,$(origin OUT)),$(OUT),$(ENDPOINT_OUT))"

catalog: setup
	@$(PY) scripts/catalog.py list $(if $(QUERY),"$(QUERY)") $(if $(TEAM),--team "$(TEAM)") $(if $(JSON),--json) \
	  $(if $(SOURCE),--source "$(SOURCE)",--live --config "$(CONFIG)") $(if $(PROFILE),--profile "$(PROFILE)")

catalog-site: setup
	@test -n "$(filter command line environment,$(origin OUT))" || { echo "catalog-site: OUT=<directory> is required" >&2; exit 2; }
	@$(PY) scripts/catalog.py site --out "$(OUT)" $(if $(SOURCE),--source "$(SOURCE)",$(if $(LIVE),--live --config "$(CONFIG)")) \
	  $(if $(PROFILE),--profile "$(PROFILE)") $(if $(PUBLISH),--publish "$(PUBLISH)")

monitor-local: setup
	@test -n "$(CAPTURE)" -a -n "$(BASELINE)" || { echo "monitor-local: CAPTURE=<dir of .jsonl capture files> BASELINE=<baseline dir> OUT=<dir> are required" >&2; exit 2; }
	$(PY) pipelines/modelbuild/code/drift.py report --capture "$(CAPTURE)" --baseline "$(BASELINE)" \
	  --out "$(if $(filter command line environment,$(origin OUT)),$(OUT),build/monitor)" \
	  $(if $(THRESHOLD),--threshold $(THRESHOLD)) $(if $(MIN_RECORDS),--min-records $(MIN_RECORDS)) \
	  $(if $(GROUND_TRUTH),--ground-truth "$(GROUND_TRUTH)")

simulate-scaling: setup
	@test -n "$(MANIFEST)" || { echo "simulate-scaling: MANIFEST=<deploy manifest JSON> is required" >&2; exit 2; }
	@$(PY) scripts/simulate_scaling.py "$(MANIFEST)" $(if $(JSON),--json)

doctor: setup
	$(PY) scripts/doctor.py --config "$(CONFIG)" $(if $(PROFILES),--profiles "$(PROFILES)")

bench: setup
	$(PY) scripts/bench.py

clean:
	rm -rf cdk.out build .pytest_cache
