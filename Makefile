# rstyczynski.ansible: durable long-running tasks for Ansible.
#   make demo          runs ansible_collection/long_running_flow.yml on local podman hosts (filesystem store)
#   make test          lint + every test on the newest ansible-core line (unit, store conformance,
#                      real ansible-playbook runs on podman hosts)
#   make test-compat   the compatibility subset on every other supported line
#   make sanity        ansible-test sanity (--venv) on the collection, on the chosen line
#   make units         ansible-test units (the probe's Python tests), on the chosen line
#   make molecule      every Molecule scenario (extensions/molecule/), on the chosen line
#   make simulate      one batch of the ledger simulation (SIM="STORE RUNS MODES", SEED=... SIM_PATH=...)
#   make soak          controllers racing on podman hosts under faults, kill -9 trials, 10x simulation
#   make bench         benchmarks against the native-Ansible baseline
#   make test-files FILES="..."  chosen test files, with make test's environment
# Every target installs what it needs (apt, npm ci, pinned PyPI venvs under .cache/venv, the
# podman target image) idempotently.
#
# ANSIBLE=2.21|2.19|2.14 picks the ansible-core line (default: the newest). 2.14 is Debian 12's
# apt package; the others are venvs pinned by scripts/python/ansible-X.Y.{txt,lock}.
#   make test ANSIBLE=2.19          the whole suite on 2.19
#   make test-compat ANSIBLE=2.14   the subset on 2.14 only
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
COLL := ansible_collection/collections/ansible_collections/rstyczynski/ansible
STAMPS := .cache/stamps
VENVS := .cache/venv
NEWEST := 2.21
COMPAT_LINES := 2.19 2.14
ANSIBLE ?= $(NEWEST)
ifeq ($(filter $(ANSIBLE),$(NEWEST) $(COMPAT_LINES)),)
$(error ANSIBLE=$(ANSIBLE) is not a supported line; choose one of $(NEWEST) $(COMPAT_LINES))
endif
# Where this line's ansible-playbook, ansible-galaxy, ... live; first on PATH for every recipe.
ANSIBLE_BIN := $(if $(filter 2.14,$(ANSIBLE)),/usr/bin,$(CURDIR)/$(VENVS)/ansible-$(ANSIBLE)/bin)
ANSIBLE_DEP := $(if $(filter 2.14,$(ANSIBLE)),$(STAMPS)/apt,$(VENVS)/ansible-$(ANSIBLE)/.lrt-stamp)
TOOLS_BIN := $(CURDIR)/$(VENVS)/tools/bin
MOLECULE := $(CURDIR)/$(VENVS)/molecule/bin/molecule
export PATH := $(ANSIBLE_BIN):$(PATH)
export LRT_ANSIBLE_LINE := $(ANSIBLE)
export LRT_ANSIBLE_PYTHON := $(ANSIBLE_BIN)/python3
export ARA_MANAGE := $(CURDIR)/$(VENVS)/servers/bin/ara-manage
export MOTO_SERVER := $(CURDIR)/$(VENVS)/servers/bin/moto_server
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/ansible_collection/collections
export CONTAINERS_CONF := $(CURDIR)/.cache/containers.conf
export ANSIBLE_NOCOLOR := 1
NODE_TEST := node --import tsx --test --test-reporter=spec
# Node 18/20 take file lists, not globs.
tests = $(shell find $(1) -name '*.test.ts' 2>/dev/null | sort)
# The compatibility subset: real ansible-playbook runs on podman hosts (multi-host job_store
# calls templated per host, the four flow scenarios, save/load around a native task, cancel and
# crash, install from the built tarball, the collection's operator playbooks, the job_ledger callback,
# playbooks written for the earlier save/load roles).
COMPAT_TESTS := test/integration/job_store.test.ts test/integration/flow.test.ts test/integration/callback.test.ts \
  test/integration/roles.test.ts test/integration/package.test.ts test/integration/playbooks.test.ts \
  test/integration/compat.test.ts
# Molecule scenarios: the newest line runs the first, 2.19 the others (Molecule 26 needs 2.16+).
MOLECULE_NEWEST := long_running_task
MOLECULE_COMPAT := crash save_load
TS_SOURCES := $(shell find src -name '*.ts') package-lock.json scripts/build.mjs $(wildcard scripts/licenses/*.txt)

.PHONY: all deps build image lint sanity units molecule simulate soak test test-unit test-files test-compat test-compat-line demo bench collection clean

all: build

$(STAMPS)/apt: scripts/provision.sh
	@mkdir -p $(STAMPS)
	scripts/provision.sh
	@touch $@

$(VENVS)/%/.lrt-stamp: scripts/python/%.txt scripts/python/%.lock scripts/venv.sh
	scripts/venv.sh $*
# A stamp reached only through a pattern rule (molecule-%) is not an intermediate file to delete.
.PRECIOUS: $(VENVS)/%/.lrt-stamp

node_modules/.package-lock.json: package-lock.json package.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(CONTAINERS_CONF): scripts/podman-env.sh
	scripts/podman-env.sh >/dev/null

deps: $(STAMPS)/apt $(ANSIBLE_DEP) $(VENVS)/servers/.lrt-stamp node_modules/.package-lock.json $(CONTAINERS_CONF)

dist/job_store_engine.cjs: $(TS_SOURCES) node_modules/.package-lock.json
	node scripts/build.mjs

build: node_modules/.package-lock.json dist/job_store_engine.cjs

image: deps
	scripts/build-image.sh

lint: deps build $(VENVS)/tools/.lrt-stamp
	npx tsc --noEmit
	npx biome lint --error-on-warnings src test bench scripts/build.mjs
	$(TOOLS_BIN)/yamllint -s ansible_collection test docs/execution-environment.yml
	cd $(COLL) && PATH=$(TOOLS_BIN):$$PATH ansible-lint --offline --profile production -q
	cd $(COLL) && PATH=$(TOOLS_BIN):$$PATH antsibull-changelog lint
	cd $(COLL) && PATH=$(TOOLS_BIN):$$PATH antsibull-docs lint-collection-docs --plugin-docs .
	# The probe runs on managed hosts: Python 3.6+ (test-compat also runs its tests on 3.6).
	cd $(COLL) && $(TOOLS_BIN)/vermin --target=3.6- --violations --no-tips plugins/modules/async_job_probe.py plugins/module_utils/

# The ecosystem's own gates. ansible-test works on the collection tree (the bundles are build
# output it does not see; the tarball test covers them).
sanity: deps
	scripts/ansible-test.sh sanity

units: deps
	scripts/ansible-test.sh units

molecule-%: deps build image $(VENVS)/molecule/.lrt-stamp
	cd $(COLL) && ANSIBLE_FORCE_COLOR=0 PY_COLORS=0 $(MOLECULE) test -s $*

molecule: $(addprefix molecule-,$(MOLECULE_NEWEST) $(MOLECULE_COMPAT))

# One batch of the ledger simulation by hand; make test runs 10,000 schedules (test/simulation).
# A failure prints the command that replays it: SEED=... SIM_PATH=... make simulate SIM="..."
SIM ?= memory 1000 start,start,start,check,cancel,load,save --pause
simulate: node_modules/.package-lock.json
	node --import tsx test/simulation/simulate.ts $(SIM)

# Not in make test: real controllers racing under host crashes and store cuts (bench/soak.ts,
# SOAK_ROUNDS=N SOAK_SEED=...), 1000 kill -9 trials per store, and 10x the simulation.
soak: deps build image
	node --import tsx bench/soak.ts
	KILL_TRIALS=2000 $(NODE_TEST) test/killnine/killnine.test.ts
	SIM_SCALE=10 $(NODE_TEST) test/simulation/ledger.test.ts

test: deps build image lint sanity units
	@echo "make test: $$(ansible --version | head -n1)"
	$(NODE_TEST) $(call tests,test/unit test/conformance test/cli test/integration test/simulation test/killnine)
	$(MAKE) --no-print-directory $(addprefix molecule-,$(MOLECULE_NEWEST))

# Without ANSIBLE= on the command line: every line but the newest, one after the other.
ifeq ($(origin ANSIBLE),command line)
test-compat: test-compat-line
else
test-compat:
	@for line in $(COMPAT_LINES); do $(MAKE) --no-print-directory test-compat-line ANSIBLE=$$line || exit 1; done
endif

# 2.19 also runs sanity and the other Molecule scenarios; 2.14 (Debian's) also runs the probe's
# unit tests on Python 3.6, the managed-host floor (newer ansible-test lines stop at 3.8/3.9).
test-compat-line: deps build image
	@echo "make test-compat: $$(ansible --version | head -n1)"
	$(NODE_TEST) $(COMPAT_TESTS)
ifeq ($(ANSIBLE),2.19)
	$(MAKE) --no-print-directory sanity $(addprefix molecule-,$(MOLECULE_COMPAT))
endif
ifeq ($(ANSIBLE),2.14)
	scripts/ansible-test.sh units --python 3.6
endif

test-unit: deps build
	$(NODE_TEST) $(call tests,test/unit test/conformance)

# Chosen test files with the same environment as make test: make test-files FILES="test/x.test.ts ..."
test-files: deps build image
	$(NODE_TEST) $(FILES)

demo: deps build image
	scripts/demo.sh

bench: deps build image
	node --import tsx bench/main.ts

collection: build
	rm -rf .cache/collection && mkdir -p .cache/collection
	ansible-galaxy collection build $(COLL) --output-path .cache/collection --force

clean:
	rm -rf dist .cache/stamps .cache/collection $(COLL)/plugins/plugin_utils/_engine $(COLL)/engine
