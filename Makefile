# Two commands a newcomer needs: `make run` and `make test`. Both install what they need.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: lambda-runtime fuzz openapi openapi-check deploy hooks install run test test-unit test-integration test-e2e lint format bench invoke build validate clean

$(STAMP): requirements-dev.txt layers/shared/requirements.txt
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

PDS_STAMP := .local/pds-installed
# The real local PDS (Node 22 + @atproto/dev-env) in a cache outside the repo, keyed by the lockfile.
$(PDS_STAMP): pds/package-lock.json pds/install.sh
	bash pds/install.sh
	mkdir -p .local && touch $(PDS_STAMP)

# The Lambda-like interpreter and the built layer the local functions run on, cached outside the
# repo by what they are built from (local_runtime/lambda_build.py); instant once built.
lambda-runtime: $(STAMP)
	$(PY) -m local_runtime.lambda_build

install: $(STAMP) $(PDS_STAMP) lambda-runtime

## Start the whole service on 127.0.0.1 (moto, tables from template.yaml, demo data, HTTP gateway).
run: $(STAMP) $(PDS_STAMP) lambda-runtime
	$(PY) -m local_runtime run

## Every test: unit, integration (moto server) and end-to-end (HTTP through the local runtime).
test: $(STAMP) $(PDS_STAMP) lambda-runtime
	$(PY) -m pytest

## A longer schema-fuzzing run (CI runs FUZZ_EXAMPLES=10 per operation within `make test`).
fuzz: $(STAMP) $(PDS_STAMP)
	FUZZ_EXAMPLES=$(or $(EXAMPLES),200) $(PY) -m pytest -s tests/e2e/test_fuzz.py

test-unit: $(STAMP)
	$(PY) -m pytest tests/unit

test-integration: $(STAMP) $(PDS_STAMP) lambda-runtime
	$(PY) -m pytest tests/integration

test-e2e: $(STAMP) $(PDS_STAMP) lambda-runtime
	$(PY) -m pytest tests/e2e

lint: $(STAMP)
	$(VENV)/bin/cfn-lint template.yaml
	$(PY) -m tools.openapi --check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy layers/shared/albums_core local_runtime tools functions/*/app.py

## The OpenAPI document, generated from the handlers' routes and models (committed).
openapi: $(STAMP)
	$(PY) -m tools.openapi

openapi-check: $(STAMP)
	$(PY) -m tools.openapi --check

## pre-commit hooks (ruff, the OpenAPI drift check) as local hooks.
hooks: $(STAMP)
	$(VENV)/bin/pre-commit install

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## Benchmarks: cold starts against a baseline, DynamoDB calls per request, page time vs catalogue size.
bench: $(STAMP) $(PDS_STAMP) lambda-runtime
	$(PY) -m bench

## make invoke FN=get_album EVENT=events/get_album_200.json  (stands in for `sam local invoke`)
invoke: $(STAMP) $(PDS_STAMP) lambda-runtime
	$(PY) -m local_runtime invoke $(FN) -e $(EVENT)

## sam build / validate (aws-sam-cli in its own virtualenv: it pins its own boto3).
$(VENV)-sam/bin/sam:
	$(PYTHON) -m venv $(VENV)-sam
	$(VENV)-sam/bin/pip install --quiet aws-sam-cli==1.170.0

validate: $(VENV)-sam/bin/sam
	$(VENV)-sam/bin/sam validate --lint

build: $(VENV)-sam/bin/sam
	$(VENV)-sam/bin/sam build

## sam deploy; PROFILE=production for the production profile of samconfig.toml.
deploy: build
	$(VENV)-sam/bin/sam deploy --config-env $(or $(PROFILE),default)

clean:
	rm -rf .aws-sam .local .pytest_cache .mypy_cache .ruff_cache
