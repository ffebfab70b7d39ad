# payment-chaos: GNU make build.
#
#   make                 build bin/* (services, sim, loadgen, labwire)
#   make test            build and run every test (Check suites, then the end-to-end scripts)
#   make SANITIZE=address,undefined test    the same under ASan+UBSan (objects in build/san-*)
#   make SANITIZE=thread check-tsan         the threaded code under TSan
#   make -j2 all tests   build the programs and the test binaries in parallel (make test then runs the suites)
#   make deps            install the Debian packages that pkg-config cannot find
#   make install         the binaries and man pages under PREFIX (default /usr/local), DESTDIR for staging
#   make man             the man pages (build/<variant>/man), from each program's --help
#   make WERROR=1        warnings are errors (CI)
#
# Sources are found by directory, one folder per layer (docs/architecture.md): base/*.c the building blocks,
# services/core/*.c and services/*.c the service logic, services/http/*.c the HTTP runtime, faults/*.c the
# fault models, sim/*/*.c the simulator's layers (sim/cli/*.c only in bin/sim), lab/*.c the lab's load
# generator (only in bin/loadgen), lab/wire/*.c the lab's userspace wire (bin/labwire: base/ and faults/
# only), tests/check_*.c one Check suite each, tests/support/*.c their helpers.
# Files named main_*.c hold a program's main() and are linked only into that program.

.DELETE_ON_ERROR:
.SECONDARY:
.SUFFIXES:
SHELL := /bin/bash

PKGS      := libmicrohttpd jansson libcurl yaml-0.1 check
CC        ?= cc
SANITIZE  ?=
WERROR    ?=
# Release builds are optimised for speed: -O3, and objects that also carry GCC's intermediate code so that
# they are optimised again as a whole when linked (the simulator crosses module boundaries on every event:
# engine, TCP, faults, services). Measured on the headline run (tests/bench/sim.sh, A/B of 30 alternating
# runs): link-time optimisation +5 %, -O3 over -O2 +3 %. Sanitizer builds use -O2 without LTO (faster
# builds, exact stack traces). `make OPT=-O2 LTO=` gives a plain build.
LTO       ?= -flto=auto

comma := ,
ifeq ($(SANITIZE),)
  VARIANT := release
  BINDIR  := bin
  OPT     ?= -O3
  LTO_FLAGS := $(LTO)
else
  OPT     ?= -O2
  LTO_FLAGS :=
  VARIANT := san-$(subst $(comma),-,$(SANITIZE))
  BINDIR  := build/$(VARIANT)/bin
endif
BUILD := build/$(VARIANT)

# pkg-config is only consulted when a target needs it, so `make deps` works on a bare machine.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs libmicrohttpd jansson libcurl yaml-0.1 2>/dev/null) -lpthread -lm
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null)

WARN := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wvla \
        -Wno-format-nonliteral
CFLAGS_ALL := -std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L $(OPT) $(LTO_FLAGS) -g $(WARN) -MMD -MP \
              -I. $(PKG_CFLAGS) $(if $(WERROR),-Werror) $(CFLAGS)
LDFLAGS_ALL := $(OPT) $(LTO_FLAGS) $(LDFLAGS)
ifneq ($(SANITIZE),)
  CFLAGS_ALL  += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
  LDFLAGS_ALL += -fsanitize=$(SANITIZE)
endif

BASE_SRC   := $(filter-out base/version.c,$(wildcard base/*.c))
SVC_SRC    := $(wildcard services/core/*.c services/*.c)
HTTP_SRC   := $(filter-out services/http/main_%.c,$(wildcard services/http/*.c))
FAULTS_SRC := $(wildcard faults/*.c)
SIM_SRC    := $(filter-out sim/cli/%,$(wildcard sim/*/*.c))
CLI_SRC    := $(wildcard sim/cli/*.c)
LAB_SRC    := $(filter-out lab/main_%.c,$(wildcard lab/*.c))
WIRE_SRC   := $(filter-out lab/wire/main_%.c,$(wildcard lab/wire/*.c))
TEST_SRC   := $(wildcard tests/check_*.c)
TEST_HELPERS := $(wildcard tests/support/*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
LIB := $(BUILD)/libpaymentchaos.a
LIB_OBJS := $(call obj,$(BASE_SRC) $(SVC_SRC) $(HTTP_SRC) $(FAULTS_SRC) $(SIM_SRC))
LAB_OBJS := $(call obj,$(LAB_SRC))
WIRE_OBJS := $(call obj,$(WIRE_SRC))
# --version's revision, outside the library: a new commit relinks the programs, and the test binaries only when
# something else of theirs changed (for them it is an order-only prerequisite, linked all the same).
VERSION_OBJ := $(call obj,base/version.c)

SERVICES := payment inventory notification
PROGRAMS := $(addprefix $(BINDIR)/,$(addsuffix -service,$(SERVICES))) \
            $(BINDIR)/sim $(BINDIR)/loadgen $(BINDIR)/labwire
TESTS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRC))

.PHONY: FORCE all tests tsan-tests man install uninstall test check-unit check-scripts check-tsan clean deps bench container-test fidelity \
        fidelity-quick fidelity-aa validate format format-check reliability
all: $(PROGRAMS)
# the test binaries (make -j2 all tests builds everything `make test` runs, in parallel; the suites then run
# one after the other)
tests: $(TESTS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

# --version: the git revision at build time. Only base/version.o gets it, and it is rebuilt only when the
# revision changes (the stamp file's content). Builds outside a git tree (the container's) pass GIT_DESCRIBE=.
GIT_DESCRIBE ?= $(shell git describe --always --dirty 2>/dev/null || echo unknown)
$(BUILD)/git-describe: FORCE
	@mkdir -p $(@D)
	@echo '$(GIT_DESCRIBE)' | cmp -s - $@ || echo '$(GIT_DESCRIBE)' >$@
$(BUILD)/obj/base/version.o: $(BUILD)/git-describe
$(BUILD)/obj/base/version.o: CFLAGS_ALL += -DPC_GIT_DESCRIBE='"$(GIT_DESCRIBE)"'
FORCE:

$(LIB): $(LIB_OBJS)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(BINDIR)/%-service: $(call obj,services/http/main_%.c) $(VERSION_OBJ) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS)

$(BINDIR)/sim: $(call obj,$(CLI_SRC)) $(VERSION_OBJ) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS)

$(BINDIR)/loadgen: $(call obj,lab/main_loadgen.c) $(LAB_OBJS) $(VERSION_OBJ) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS)

$(BUILD)/tests/%: $(call obj,tests/%.c) $(call obj,$(TEST_HELPERS)) $(LIB) | $(VERSION_OBJ)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(VERSION_OBJ) $(CHECK_LIBS) $(PKG_LIBS)

# The wire links only base/ and faults/ (the library's archive: only what it references is pulled in).
$(BINDIR)/labwire: $(call obj,lab/wire/main_labwire.c) $(WIRE_OBJS) $(VERSION_OBJ) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ -lm

# (the test helpers reach the simulator's options, whose --version needs the version object)
$(BUILD)/tests/check_labwire: $(call obj,tests/check_labwire.c) $(call obj,$(TEST_HELPERS)) $(WIRE_OBJS) $(LIB) | $(VERSION_OBJ)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(VERSION_OBJ) $(CHECK_LIBS) $(PKG_LIBS)

# check_lab tests the lab's C half (plan, records, comparison), which is not in the library.
$(BUILD)/tests/check_lab: $(call obj,tests/check_lab.c) $(call obj,$(TEST_HELPERS)) $(LAB_OBJS) $(LIB) | $(VERSION_OBJ)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(VERSION_OBJ) $(CHECK_LIBS) $(PKG_LIBS)

# Man pages: each template's @HELP@ is its program's --help in roff (man/mkman.sh), so a page lists exactly the
# options or settings the program has.
PREFIX ?= /usr/local
MANDIR ?= $(PREFIX)/share/man
MANPAGES := $(patsubst %,$(BUILD)/man/%.1,sim loadgen labwire $(addsuffix -service,$(SERVICES)))
ROLE_payment := It takes payments (POST /payment/process, with an Idempotency-Key) and runs the chain (POST \
  /payment/chain: an inventory check, then a notification).
ROLE_inventory := It holds the stock of the products it owns in a journal and reserves and releases it for payments.
ROLE_notification := It sends notifications and keeps their history in memory.
man: $(MANPAGES)
$(BUILD)/man/sim.1 $(BUILD)/man/loadgen.1 $(BUILD)/man/labwire.1: $(BUILD)/man/%.1: man/%.1.in man/mkman.sh $(BINDIR)/%
	@mkdir -p $(@D)
	sh man/mkman.sh $< $(BINDIR)/$* >$@
$(BUILD)/man/%-service.1: man/service.1.in man/mkman.sh $(BINDIR)/%-service
	@mkdir -p $(@D)
	sh man/mkman.sh $< $(BINDIR)/$*-service NAME=$*-service NAMEUC=$(shell echo '$*' | tr a-z A-Z)-SERVICE \
	  SERVICE=$* ROLE='$(ROLE_$*)' >$@

install: $(PROGRAMS) $(MANPAGES)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(MANDIR)/man1
	install -m 755 $(PROGRAMS) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(MANPAGES) $(DESTDIR)$(MANDIR)/man1/
uninstall:
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/bin/,$(notdir $(PROGRAMS))) \
	      $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(MANPAGES)))

# The Check suites run one after the other; each prints its own summary line. Suites find the
# binaries through PC_BIN_DIR, so the sanitizer variant tests its own binaries.
check-unit: $(TESTS) $(PROGRAMS)
	@set -e; for t in $(TESTS); do echo "== $$t"; s=$$(date +%s); PC_BIN_DIR=$(abspath $(BINDIR)) $$t; \
	    echo "== $$t: $$(( $$(date +%s) - s )) s"; done

check-scripts: $(PROGRAMS)
	@set -e; for s in $(sort $(wildcard tests/test_*.sh)); do echo "== $$s"; t0=$$(date +%s); \
	    PC_BIN_DIR=$(abspath $(BINDIR)) bash $$s; echo "== $$s: $$(( $$(date +%s) - t0 )) s"; done

test: check-unit check-scripts
	@echo "make test: all passed ($(VARIANT))"

# The suites whose code runs on several threads (the HTTP runtime, replicated deployments, seed ranges),
# for the TSan build.
TSAN_TESTS := $(filter $(BUILD)/tests/check_e2e $(BUILD)/tests/check_replicas $(BUILD)/tests/check_correctness,$(TESTS))
tsan-tests: $(TSAN_TESTS)
check-tsan: $(TSAN_TESTS) $(PROGRAMS)
	@set -e; for t in $(TSAN_TESTS); do echo "== $$t"; PC_BIN_DIR=$(abspath $(BINDIR)) $$t; done

# The services against a hostile client (tests/reliability.sh): the bad-input matrix, mutated requests, a
# slowloris flood, a capacity flood and a restart, the credentials, SIGTERM under load, kill -9 rounds.
reliability: $(PROGRAMS) $(BUILD)/tests/check_replicas
	PC_BIN_DIR=$(abspath $(BINDIR)) PC_REPLICAS_TEST=$(abspath $(BUILD)/tests/check_replicas) bash tests/reliability.sh

bench: all
	bash tests/bench/sim.sh
	bash tests/bench/run.sh
	bash tests/bench/sweep.sh

container-test: all
	bash tests/container/run.sh

# CELLS="a b ...": only those cells of the full matrix (after the two no-fault cells, which calibrate)
fidelity: all
	bash lab/fidelity.sh $(if $(CELLS),$(CELLS),full)

fidelity-quick: all
	bash lab/fidelity.sh quick

# The lab against itself: every quick cell REPS times (default 5), the spread of each figure between runs
fidelity-aa: all
	bash lab/fidelity.sh aa $(REPS)

# The validator through tests/validate_manifests.py, which adds the batch/v1 Job (k8s/loadgen-job.yaml,
# k8s/sim-sweep.yaml) that the validator's schemas lack. k8s/security.yaml holds NetworkPolicies, a kind it has
# no schema for. tests/validate_job.py then checks what is particular to the sweep's Indexed Job: completions
# equal to the N of its --shard, and its arguments through bin/sim's own parser.
# VALIDATOR=path overrides where the validator is.
VALIDATOR ?= ../shared/tools/validate-manifests
VALIDATED_K8S = $(filter-out k8s/security.yaml,$(wildcard k8s/*.yaml))
validate: $(BINDIR)/sim
	@if [ -x $(VALIDATOR) ]; then \
	  python3 tests/validate_manifests.py $(VALIDATOR) $(VALIDATED_K8S) chaos-experiments/*.yaml && \
	  python3 tests/validate_job.py $(BINDIR)/sim k8s/sim-sweep.yaml; \
	else echo "validate: $(VALIDATOR) not present; skipped"; fi

# The C style is .clang-format's (clang-format 14); CI runs format-check.
C_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	clang-format -i $(C_FILES)
format-check:
	@clang-format --dry-run --Werror $(C_FILES) && echo "format-check: $(words $(C_FILES)) files as .clang-format says"

# Installs only what is missing; needs root (apt-get). Safe to run repeatedly.
deps:
	@bash .ci/deps

clean:
	rm -rf build bin

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
