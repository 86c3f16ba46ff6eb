# salesflow — plain Makefile, libraries found with pkg-config.
#
#   make            build build/salesflow (and the dashboard assets)
#   make deps       install missing Debian packages (apt-get, as root or via sudo)
#   make run        deps + build + `salesflow run` with the embedded defaults
#   make test       deps + build + unit tests (cmocka) + end-to-end tests
#   make SANITIZER=address,undefined test   (docs/sanitizers.md)
#   make test-sanitized   unit tests under ASan+UBSan and TSan (CI runs it)
#   make tsan-test        TSan over the unit tests and the concurrent e2e tests
#   make CC=clang

CC       ?= cc
BUILD    ?= build
PKGS     := libmicrohttpd sqlite3 jansson libcurl libisal libmariadb rdkafka zlib libzstd
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -pthread -Isrc \
            $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -pthread -lm
ifneq ($(SANITIZER),)
# Every finding is fatal (no "recover and go on" for UBSan); tests/run.sh sets
# the runtime options and fails the run on any report.
CFLAGS   += -fsanitize=$(SANITIZER) -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS  += -fsanitize=$(SANITIZER)
# GCC links ASan and UBSan as two shared runtimes, and then UBSan's reports go
# to stderr whatever log_path says; linked statically each one honours it.
ifeq ($(shell $(CC) -dM -E -x c /dev/null 2>/dev/null | grep -c __clang__),0)
LDFLAGS  += $(if $(findstring address,$(SANITIZER)),-static-libasan) \
            $(if $(findstring undefined,$(SANITIZER)),-static-libubsan)
endif
endif

SRCS     := $(wildcard src/*.c src/*/*.c)
OBJS     := $(SRCS:%.c=$(BUILD)/%.o) $(BUILD)/src/web/assets.o
LIBOBJS  := $(filter-out $(BUILD)/src/main.o,$(OBJS))
UNIT_SRCS:= $(wildcard tests/unit/test_*.c)
UNIT_BINS:= $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
WEB_FILES:= web/index.html web/app.js web/style.css web/explore.html web/explore.js web/query.js
WEB_OUT  := $(BUILD)/web/echarts.min.js

.PHONY: all deps run test unit e2e clean bench install
PREFIX   ?= /usr/local
all: $(BUILD)/salesflow

deps:
	@sh tools/deps.sh

$(BUILD)/salesflow: $(OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

# The dashboard: ECharts comes from npm (pinned by web/package-lock.json) and
# is embedded into the binary together with the page's own files.
$(WEB_OUT): web/package.json web/package-lock.json
	@mkdir -p $(dir $@)
	cd web && npm ci --no-audit --no-fund --loglevel=error
	cp web/node_modules/echarts/dist/echarts.min.js $@

$(BUILD)/src/web/assets.o: src/web/assets.S $(WEB_OUT) $(WEB_FILES)
	@mkdir -p $(dir $@)
	$(CC) -DECHARTS_JS='"$(WEB_OUT)"' -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(LIBOBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(shell pkg-config --cflags cmocka) $(LDFLAGS) -o $@ $^ \
	    $(LDLIBS) $(shell pkg-config --libs cmocka)

# Test helper: librdkafka's mock Kafka cluster (tests/kafka/mockcluster.c).
KAFKA_HELPERS := $(BUILD)/tests/mockcluster
$(BUILD)/tests/mockcluster: tests/kafka/mockcluster.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(shell pkg-config --libs rdkafka)

$(BUILD)/bench/%: bench/%.c $(LIBOBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

bench: $(BUILD)/salesflow $(BUILD)/bench/log_append $(BUILD)/bench/log_fill \
       $(BUILD)/bench/sqlite_insert
	BUILD=$(BUILD) bench/run

# Long runs (issue 21; docs/BENCHMARKS.md, "Soak"): `make soak SOAK_MINUTES=30`
# runs `run` at 5,000 orders/s with 50 SSE viewers and a query load and
# writes soak.csv, soak.svg and summary.md into SOAK_OUT (SOAK_ARGS: the
# server's flags; by default the log and the idempotency index are bounded,
# so that memory or descriptors that still grow after the warm-up are a
# leak, not retained data — SOAK_ARGS= runs with neither bound); `make fault-soak`
# runs the libfiu disk-fault test with FAULT_ORDERS requests per case and
# FAULT_CYCLES fatal-fdatasync restarts.
SOAK_MINUTES ?= 30
SOAK_OUT     ?= $(BUILD)/soak
SOAK_ARGS    ?= --segment-bytes 8M --retention-bytes 24M --dedupe-window 2m
FAULT_ORDERS ?= 20000
FAULT_CYCLES ?= 20
.PHONY: soak fault-soak
soak: $(BUILD)/salesflow
	python3 bench/soak.py --bin $(BUILD)/salesflow --minutes $(SOAK_MINUTES) --out $(SOAK_OUT) \
	    --server-args "$(SOAK_ARGS)"

fault-soak: $(BUILD)/salesflow
	@SF_FIU_ORDERS=$(FAULT_ORDERS) SF_FIU_CYCLES=$(FAULT_CYCLES) $(MAKE) --no-print-directory test UNIT=0 \
	    E2E_ARGS="-k test_disk_faults"

# Fuzzing (docs/fuzzing.md): libFuzzer harnesses fuzz/fuzz_*.c, built with
# clang and ASan+UBSan into $(FUZZ_BUILD) (the sources once, as an archive
# the harnesses link from), each run for FUZZ_SECONDS on a copy of its seed
# corpus fuzz/corpus/NAME/ (new inputs stay in $(FUZZ_BUILD)/corpus/NAME,
# crashes land in $(FUZZ_BUILD)/artifacts/). `make fuzz FUZZ_SECONDS=600`.
FUZZ_CC      ?= clang
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
                -fno-omit-frame-pointer
FUZZ_CFLAGS  := -O1 -g -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -pthread -Isrc \
                $(shell pkg-config --cflags $(PKGS) 2>/dev/null) $(FUZZ_SAN)
FUZZ_SRCS    := $(filter-out src/main.c,$(SRCS))
FUZZ_OBJS    := $(FUZZ_SRCS:%.c=$(FUZZ_BUILD)/%.o)
FUZZ_NAMES   := $(patsubst fuzz/fuzz_%.c,%,$(wildcard fuzz/fuzz_*.c))
FUZZ_BINS    := $(FUZZ_NAMES:%=$(FUZZ_BUILD)/fuzz_%)

$(FUZZ_BUILD)/src/%.o: src/%.c | fuzz-deps
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(FUZZ_BUILD)/libsalesflow.a: $(FUZZ_OBJS)
	rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: fuzz/fuzz_%.c $(FUZZ_BUILD)/libsalesflow.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -MMD -MP -o $@ $< \
	    $(FUZZ_BUILD)/libsalesflow.a $(LDLIBS)

.PHONY: fuzz fuzz-build fuzz-deps
# clang and its libFuzzer runtime, from Debian, when missing.
fuzz-deps:
	@DEPS_EXTRA="clang libclang-rt-14-dev" sh tools/deps.sh

fuzz-build: $(FUZZ_BINS)

fuzz: $(FUZZ_BINS)
	@set -e; for t in $(FUZZ_NAMES); do \
	    mkdir -p $(FUZZ_BUILD)/corpus/$$t $(FUZZ_BUILD)/artifacts; \
	    cp fuzz/corpus/$$t/* $(FUZZ_BUILD)/corpus/$$t/ 2>/dev/null || true; \
	    dict=; [ -f fuzz/$$t.dict ] && dict=-dict=fuzz/$$t.dict; \
	    echo "== fuzz_$$t for $(FUZZ_SECONDS) s"; \
	    $(FUZZ_BUILD)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	        -artifact_prefix=$(FUZZ_BUILD)/artifacts/$$t- $$dict \
	        $(FUZZ_BUILD)/corpus/$$t || exit 1; \
	done

-include $(FUZZ_OBJS:.o=.d) $(FUZZ_BINS:=.d)

run: deps $(BUILD)/salesflow
	$(BUILD)/salesflow run $(ARGS)

test: deps
	@$(MAKE) --no-print-directory $(BUILD)/salesflow $(UNIT_BINS) $(KAFKA_HELPERS)
	@BUILD=$(BUILD) SANITIZER=$(SANITIZER) sh tests/run.sh

# Sanitized runs (docs/sanitizers.md), each in its own build directory:
# $(BUILD)-asan (ASan+UBSan) and $(BUILD)-tsan. tsan-test runs the e2e tests
# of the threaded parts (log writer, processor, SSE, idempotency waits, replay's
# reader, query threads); TSan cannot run the Kafka ones (librdkafka's C11
# threads are invisible to it).
TSAN_E2E ?= -k test_flow -k test_dashboard_sse -k test_crash -k test_ingest_idempotency \
            -k test_fastpath -k test_replay_crash -k test_query_pool -k test_auth_limit
.PHONY: test-sanitized tsan-test
test-sanitized:
	@$(MAKE) --no-print-directory test SANITIZER=address,undefined \
	    BUILD=$(BUILD)-asan E2E=0
	@$(MAKE) --no-print-directory test SANITIZER=thread BUILD=$(BUILD)-tsan E2E=0
tsan-test:
	@$(MAKE) --no-print-directory test SANITIZER=thread BUILD=$(BUILD)-tsan \
	    E2E_ARGS="$(TSAN_E2E)" SF_CRASH_CYCLES=3

# The binary, the man page, and the systemd units with their ExecStart
# pointing at $(PREFIX)/bin, and the configuration example 0640 (the copy made
# from it holds passwords: keep it from other users).
install: $(BUILD)/salesflow
	install -D -m 0755 $(BUILD)/salesflow $(DESTDIR)$(PREFIX)/bin/salesflow
	install -D -m 0644 docs/man/salesflow.1 $(DESTDIR)$(PREFIX)/share/man/man1/salesflow.1
	for u in deploy/*.service; do \
	    mkdir -p $(DESTDIR)$(PREFIX)/lib/systemd/system && \
	    sed 's|/usr/local/bin/salesflow|$(PREFIX)/bin/salesflow|' $$u \
	        > $(DESTDIR)$(PREFIX)/lib/systemd/system/$$(basename $$u) || exit 1; \
	done
	install -D -m 0640 deploy/salesflow.env.example \
	    $(DESTDIR)/etc/salesflow/salesflow.env.example

clean:
	rm -rf $(BUILD)

-include $(OBJS:.o=.d)
