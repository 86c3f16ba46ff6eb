# salesflow — plain Makefile, libraries found with pkg-config.
#
#   make            build build/salesflow (and the dashboard assets)
#   make deps       install missing Debian packages (apt-get, as root or via sudo)
#   make run        deps + build + `salesflow run` with the embedded defaults
#   make test       deps + build + unit tests (cmocka) + end-to-end tests
#   make SANITIZER=address,undefined test
#   make CC=clang

CC       ?= cc
BUILD    ?= build
PKGS     := libmicrohttpd sqlite3 jansson libcurl libisal libmariadb rdkafka
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -pthread -Isrc \
            $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -pthread -lm
ifneq ($(SANITIZER),)
CFLAGS   += -fsanitize=$(SANITIZER) -fno-omit-frame-pointer
LDFLAGS  += -fsanitize=$(SANITIZER)
endif

SRCS     := $(wildcard src/*.c src/*/*.c)
OBJS     := $(SRCS:%.c=$(BUILD)/%.o) $(BUILD)/src/web/assets.o
LIBOBJS  := $(filter-out $(BUILD)/src/main.o,$(OBJS))
UNIT_SRCS:= $(wildcard tests/unit/test_*.c)
UNIT_BINS:= $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
WEB_FILES:= web/index.html web/app.js web/style.css
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

run: deps $(BUILD)/salesflow
	$(BUILD)/salesflow run $(ARGS)

test: deps
	@$(MAKE) --no-print-directory $(BUILD)/salesflow $(UNIT_BINS) $(KAFKA_HELPERS)
	@BUILD=$(BUILD) sh tests/run.sh

# The binary, the man page, and the systemd units with their ExecStart
# pointing at $(PREFIX)/bin.
install: $(BUILD)/salesflow
	install -D -m 0755 $(BUILD)/salesflow $(DESTDIR)$(PREFIX)/bin/salesflow
	install -D -m 0644 docs/man/salesflow.1 $(DESTDIR)$(PREFIX)/share/man/man1/salesflow.1
	for u in deploy/*.service; do \
	    mkdir -p $(DESTDIR)$(PREFIX)/lib/systemd/system && \
	    sed 's|/usr/local/bin/salesflow|$(PREFIX)/bin/salesflow|' $$u \
	        > $(DESTDIR)$(PREFIX)/lib/systemd/system/$$(basename $$u) || exit 1; \
	done
	install -D -m 0644 deploy/salesflow.env.example \
	    $(DESTDIR)/etc/salesflow/salesflow.env.example

clean:
	rm -rf $(BUILD)

-include $(OBJS:.o=.d)
