# rstyczynski.ansible: durable long-running tasks for Ansible.
#   make demo    runs ansible_collection/long_running_flow.yml on local podman hosts (filesystem store)
#   make test    lint + every test (unit, store conformance, real ansible-playbook runs on podman hosts)
#   make bench   benchmarks against the native-Ansible baseline
# Every target installs what it needs (apt, npm ci, the podman target image) idempotently.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
COLL := ansible_collection/collections/ansible_collections/rstyczynski/ansible
STAMPS := .cache/stamps
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/ansible_collection/collections
export CONTAINERS_CONF := $(CURDIR)/.cache/containers.conf
export ANSIBLE_NOCOLOR := 1
NODE_TEST := node --import tsx --test --test-reporter=spec
# Node 18/20 take file lists, not globs.
tests = $(shell find $(1) -name '*.test.ts' 2>/dev/null | sort)
TS_SOURCES := $(shell find src -name '*.ts') package-lock.json scripts/build.mjs

.PHONY: all deps build image lint test test-unit test-integration demo bench collection clean

all: build

$(STAMPS)/apt: scripts/provision.sh
	@mkdir -p $(STAMPS)
	scripts/provision.sh
	@touch $@

node_modules/.package-lock.json: package-lock.json package.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(CONTAINERS_CONF): scripts/podman-env.sh
	scripts/podman-env.sh >/dev/null

deps: $(STAMPS)/apt node_modules/.package-lock.json $(CONTAINERS_CONF)

dist/job_store_engine.cjs: $(TS_SOURCES) node_modules/.package-lock.json
	node scripts/build.mjs

build: node_modules/.package-lock.json dist/job_store_engine.cjs

image: deps
	scripts/build-image.sh

lint: deps build
	npx tsc --noEmit
	npx biome lint --error-on-warnings src test bench scripts/build.mjs
	yamllint -s ansible_collection test
	cd $(COLL) && ansible-lint --offline --profile production -q

test: deps build image lint
	$(NODE_TEST) $(call tests,test/unit test/conformance test/cli test/integration)

test-unit: deps build
	$(NODE_TEST) $(call tests,test/unit test/conformance)

demo: deps build image
	scripts/demo.sh

bench: deps build image
	node --import tsx bench/main.ts

collection: build
	rm -rf .cache/collection && mkdir -p .cache/collection
	ansible-galaxy collection build $(COLL) --output-path .cache/collection --force

clean:
	rm -rf dist .cache/stamps .cache/collection $(COLL)/engine
