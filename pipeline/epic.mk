# epic.mk - the per-task pipeline. Run inside a task directory:
#
#     make -C spool/active/ID -f pipeline/epic.mk [-jN]
#
# request.{json,txt,md}  the request as dropped
#   -> epic-request.json + plan.mk          (epic-parse; plan.mk is included below)
#   -> personas/NN-NAME.json                (persona-run; for a command persona via
#                                            NN-NAME.raw.json and persona-normalize)
#   -> epic.json                            (epic-aggregate)
#
# Each persona output is that persona's checkpoint: resuming after any interruption is
# running make again, and only what is missing or out of date is redone. A persona's
# output depends on the normalized request, its registration and rule base, and the
# outputs of the personas it depends on (plan.mk lists them), so editing one rule base
# reruns exactly that persona and the ones after it. Tools write a file only when its
# bytes change, so nothing downstream reruns for nothing.
#
# Every recipe is one plain command with no shell metacharacters: make execs it
# directly, without a shell, so a built-in epic costs make + epic-parse + one
# persona-run per persona + epic-aggregate processes, and a no-op rerun only make.

MAKEFLAGS += -rR
.SUFFIXES:
.DELETE_ON_ERROR:
.SECONDARY:
.DEFAULT_GOAL := epic.json

# Where the tools are: EPIC_BIN if given (the front door and the watcher pass it),
# else the bin/ of the checkout this file lives in, else $PATH.
EPIC_MK_DIR := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
EPIC_BIN ?= $(firstword $(wildcard $(EPIC_MK_DIR)/../bin))
T := $(if $(EPIC_BIN),$(EPIC_BIN)/,)

# The spool this task belongs to: the task directory is SPOOL/STATE/ID.
EPIC_SPOOL_DIR ?= $(abspath $(CURDIR)/../..)
# The config: EPIC_CONFIG, else the default beside this file.
EPIC_CONFIG_FILE ?= $(or $(EPIC_CONFIG),$(wildcard $(EPIC_MK_DIR)/epic-creator.yml))
CONFIG_OPT := $(if $(EPIC_CONFIG_FILE),--config $(EPIC_CONFIG_FILE),)

REQUEST := $(firstword $(wildcard request.json request.md request.txt))
ifeq ($(REQUEST),)
$(error no request.json, request.md or request.txt in $(CURDIR))
endif
TASK_ID := $(notdir $(CURDIR))

# The stamp idiom: epic-parse rewrites epic-request.json and plan.mk only when their
# bytes change, and touches .parse.stamp every time it runs, so a rerun after an
# unchanged request (or registry, or config) is not a cascade.
.parse.stamp: $(REQUEST) $(EPIC_PLAN_SOURCES) $(EPIC_CONFIG_FILE)
	$(T)epic-parse $(CONFIG_OPT) --task-id $(TASK_ID) --stamp $@ --error-file error.json --plan plan.mk -o epic-request.json $(REQUEST)
epic-request.json plan.mk: .parse.stamp ;

include plan.mk

# One recipe for every persona; plan.mk sets PERSONA, PERSONA_KIND, PERSONA_DEPS, ...
# for each target. A command persona's raw answer goes to NN-NAME.raw.json and is
# normalized into NN-NAME.json; a built-in one is canonical by construction.
RUN_OPTS = --persona $(PERSONA) --spool $(EPIC_SPOOL_DIR) $(CONFIG_OPT)
personas/%.json:
	$(T)persona-run $(RUN_OPTS) $(if $(PERSONA_SKIP),--skip $(PERSONA_SKIP),) -o $(if $(filter command,$(PERSONA_KIND)),$(@:.json=.raw.json),$@) epic-request.json $(PERSONA_DEPS)
	$(if $(filter command,$(PERSONA_KIND)),$(T)persona-normalize --persona $(PERSONA) --order $(PERSONA_ORDER) -o $@ $(@:.json=.raw.json),)

epic.json: epic-request.json $(EPIC_OUTPUTS)
	$(T)epic-aggregate $(CONFIG_OPT) --checkpoints checkpoints.jsonl -o $@ epic-request.json $(EPIC_OUTPUTS)

.PHONY: status verify
status:
	$(T)epic-checkpoint status .
verify:
	$(T)epic-checkpoint verify .
