# epic.mk - the per-task pipeline. Run inside a task directory:
#
#     make -C spool/active/ID -f pipeline/epic.mk [-jN]
#
# request.{json,txt,md}  the request as dropped
#   -> epic-request.json + plan.mk          (epic-parse; plan.mk is included below;
#      + plan.json + config.json             the plan and the config, resolved once)
#   -> personas/NN-NAME.json                (persona-run; for a command persona via
#                                            NN-NAME.raw.json and persona-normalize)
#   -> epic.json                            (epic-aggregate)
#
# Each persona output is that persona's checkpoint: resuming after any interruption is
# running make again, and only what is missing or out of date is redone. A persona's
# output depends on the normalized request, its registration and rule base, and the
# outputs of the personas it depends on (plan.mk lists them), so editing one rule base
# reruns that persona, and the ones after it when its output changed. Tools write a
# file only when its bytes change (no clock in any of them: timings go to
# checkpoints.jsonl) and touch a stamp every time, so nothing downstream reruns for
# nothing and the next run is a no-op. Outputs are not synced; their stamps record
# their xxh3, which the launcher checks before it resumes a task (stamp.c).
#
# Every recipe is one plain command with no shell metacharacters: make execs it
# directly, without a shell, so a built-in epic costs make + epic-parse + one
# persona-run per persona + epic-aggregate processes, and a no-op rerun only make.

MAKEFLAGS += -rR
.SUFFIXES:
.DELETE_ON_ERROR:
# No .SECONDARY: a stamp that is missing (lost, or removed by the launcher's check)
# must be remade, not taken as an intermediate file that may stay missing.
.DEFAULT_GOAL := epic.json

# Paths never pass through make syntax: the launcher (epic run, the watcher) puts
# the tools' directory first on PATH and names the spool and the config in the
# environment (EPIC_SPOOL, EPIC_CONFIG), which make hands to every tool untouched,
# so a path with a space, a '$' or a '#' means what it says. Run by hand, the tools
# are found in the bin/ of the checkout this file lives in (if its path has no
# space), else on PATH; the spool is the one the task directory is in.
ifeq ($(origin EPIC_BIN),undefined)
EPIC_MK_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
EPIC_BIN := $(firstword $(wildcard $(EPIC_MK_DIR)/../bin))
endif
T := $(if $(EPIC_BIN),$(EPIC_BIN)/,)
export EPIC_SPOOL ?= $(CURDIR)/../..
# A tool that rejects its input leaves its verdict here (the launcher reads it).
export EPIC_ERROR_FILE ?= $(CURDIR)/error.json

REQUEST := $(firstword $(wildcard request.json request.md request.txt))
ifeq ($(REQUEST),)
$(error no request.json, request.md or request.txt in this task directory)
endif
# The task id is the directory's name (whatever the spool's path holds).
TASK_ID := $(lastword $(subst /, ,$(CURDIR)))

# The stamp idiom: epic-parse rewrites epic-request.json and plan.mk only when their
# bytes change, and touches .parse.stamp every time it runs, so a rerun after an
# unchanged request (or registry, or config) is not a cascade.
# EPIC_PLAN_SOURCES (from plan.mk, escaped for make by epic-parse) holds the
# registrations, their directories and the config file the plan was made from (and,
# under auto selection, the rule bases). It is included first: a rule's
# prerequisites are expanded as make reads the rule, so a variable defined after it
# would be empty there, and an edited registration would never re-plan.
include plan.mk

# (A launcher runs this very command itself for a task never parsed, so that make
# need not re-execute after making plan.mk: parse_first in tools/lib/task.c.)
.parse.stamp: $(REQUEST) $(EPIC_PLAN_SOURCES) $(if $(and $(wildcard epic-request.json),$(wildcard plan.json),$(wildcard config.json)),,FORCE)
	$(T)epic-parse --task-id $(TASK_ID) --stamp $@ --plan plan.mk -o epic-request.json $(REQUEST)
epic-request.json plan.mk plan.json config.json: .parse.stamp ;

# One recipe for every persona; plan.mk sets PERSONA, PERSONA_KIND, PERSONA_DEPS, ...
# for each persona's stamp, personas/.NN-NAME.stamp, on which personas/NN-NAME.json
# stands: the stamp idiom again, so a persona rerun by an edit that does not change
# its output's bytes (a reworded comment in its rule base) reruns nothing after it.
# The stamp holds the xxh3 of the output (stamp.c). A command persona's raw answer
# goes to NN-NAME.raw.json and is normalized into NN-NAME.json; a built-in one is
# canonical by construction.
# config.json is the config epic-parse resolved for this task: read as it is.
RUN_OPTS = --persona $(PERSONA) --config config.json
personas/.%.stamp:
	$(T)persona-run $(RUN_OPTS) $(if $(PERSONA_SKIP),--skip $(PERSONA_SKIP),) $(if $(filter command,$(PERSONA_KIND)),-o personas/$*.raw.json,--stamp $@ -o personas/$*.json) epic-request.json $(PERSONA_DEPS)
	$(if $(filter command,$(PERSONA_KIND)),$(T)persona-normalize --persona $(PERSONA) --order $(PERSONA_ORDER) $(if $(PERSONA_PREFIX),--id-prefix $(PERSONA_PREFIX),) --stamp $@ -o personas/$*.json personas/$*.raw.json,)

epic.json: epic-request.json $(EPIC_OUTPUTS)
	$(T)epic-aggregate --config config.json --checkpoints checkpoints.jsonl -o $@ epic-request.json $(EPIC_OUTPUTS)

# A prerequisite that is never up to date: plan.mk adds it to a stamp whose output
# is missing, so a deleted output is remade even though its stamp is newer.
FORCE:

.PHONY: status verify FORCE
status:
	$(T)epic-checkpoint status .
verify:
	$(T)epic-checkpoint verify .
