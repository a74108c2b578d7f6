# SPDX-License-Identifier: GPL-3.0-or-later
# migbox: make | make demo | make static | make check | make check-quick | make install
CC ?= cc
CLANG ?= clang
PKG_CONFIG ?= pkg-config
PREFIX ?= /usr/local
BATS ?= bats

VERSION := $(shell git describe --always --dirty 2>/dev/null || echo 0.1)
CFLAGS ?= -O2 -g
WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wformat=2 -Wno-format-nonliteral
CPPFLAGS += -Iinclude -D_GNU_SOURCE -DMIGBOX_VERSION='"$(VERSION)"'
ALL_CFLAGS = -std=gnu11 $(WARN) $(CFLAGS) -pthread -MMD -MP
LIBS := -lrdmacm -libverbs -libumad -lreadline -lzstd -lz -lxxhash -luuid -lpthread
# The static binary carries rdma-core with every provider linked in (no
# .so and no /etc/libibverbs.d needed): see rdma_providers_init().
RDMA_STATIC_LIBS := $(shell $(PKG_CONFIG) --static --libs librdmacm libibverbs 2>/dev/null)
STATIC_LIBS := -Wl,--start-group $(RDMA_STATIC_LIBS) -libumad -Wl,--end-group \
	-lreadline -ltinfo -lzstd -lz -lxxhash -luuid -lpthread
STATIC_CPPFLAGS := -DRDMA_STATIC_PROVIDERS=all

LIB_SRCS := $(sort $(wildcard libcommon/*.c))
APPLET_SRCS := $(sort $(wildcard applets/*.c))
SRCS := $(LIB_SRCS) $(APPLET_SRCS)

OBJS := $(SRCS:%.c=build/dyn/%.o)
STATIC_OBJS := $(SRCS:%.c=build/static/%.o)
ASAN_OBJS := $(SRCS:%.c=build/asan/%.o)
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

# V=1 shows the full commands
ifneq ($(V),1)
Q := @
quiet = @echo "  $(1)	$@";
endif

.PHONY: all demo deb static asan fuzz man check check-quick check-asan check-interop \
	check-interop10 check-libvirt check-trixie check-vm check-fuzz install clean bench

all: migbox

migbox: $(OBJS)
	$(call quiet,LINK)$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDFLAGS) $(LIBS)

build/dyn/%.o: %.c
	@mkdir -p $(dir $@)
	$(call quiet,CC)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

# The first five minutes: a real QEMU guest migrated live through
# multifd-send/recv, restored lazily by postcopy-serve, digests compared.
demo: migbox
	@MIGBOX=$(CURDIR)/migbox demo/demo.sh

static: migbox-static

migbox-static: $(STATIC_OBJS)
	$(call quiet,LINK)$(CC) $(ALL_CFLAGS) -static -o $@ $^ $(LDFLAGS) $(STATIC_LIBS)

build/static/%.o: %.c
	@mkdir -p $(dir $@)
	$(call quiet,CC)$(CC) $(CPPFLAGS) $(STATIC_CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

asan: build/asan/migbox

# libcommon as archives, for the test programs that tests/ builds (unit
# programs under ASan, static tools for the test VM): they link what they
# use, so a file split in libcommon never breaks them.
LIB_STATIC_OBJS := $(LIB_SRCS:%.c=build/static/%.o)
LIB_ASAN_OBJS := $(LIB_SRCS:%.c=build/asan/%.o)

build/static/libcommon.a: $(LIB_STATIC_OBJS)
	$(call quiet,AR)rm -f $@ && ar rcs $@ $^

build/asan/libcommon.a: $(LIB_ASAN_OBJS)
	$(call quiet,AR)rm -f $@ && ar rcs $@ $^

build/asan/migbox: $(ASAN_OBJS)
	$(call quiet,LINK)$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -o $@ $^ $(LDFLAGS) $(LIBS)

build/asan/%.o: %.c
	@mkdir -p $(dir $@)
	$(call quiet,CC)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(SAN_FLAGS) -O1 -c -o $@ $<

# libFuzzer targets: tests/fuzz/fuzz-*.c linked with libcommon (clang).
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(wildcard tests/fuzz/fuzz-*.c))
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
fuzz: $(FUZZ_TARGETS)

build/fuzz/%: tests/fuzz/%.c $(LIB_SRCS)
	@mkdir -p $(dir $@)
	$(call quiet,FUZZ)$(CLANG) -std=gnu11 $(CPPFLAGS) $(FUZZ_FLAGS) -Wall -Wextra -Werror -o $@ $^ $(LIBS)

man: migbox
	@mkdir -p man
	./migbox --man > man/migbox.1
	for a in $$(./migbox --list); do ./migbox --man $$a > man/$$a.1; done

# The suites, counted by tests/run-all ("N passed, N failed, N skipped").
# check-quick: the applet tests on the normal build, for iterating.
check-quick: migbox
	SUITES=quick tests/run-all

check-asan: asan
	SUITES=asan tests/run-all

check-interop: migbox
	SUITES=interop tests/run-all

check-interop10: migbox
	SUITES=interop10 tests/run-all

check-libvirt: migbox
	SUITES=libvirt tests/run-all

# ./install-deps, the build and the unit suite on Debian 13, in a chroot
check-trixie:
	SUITES=trixie tests/run-all

check-vm: migbox-static migbox
	SUITES=vm tests/run-all

FUZZ_SECONDS ?= 60
check-fuzz: fuzz migbox
	FUZZ_SECONDS=$(FUZZ_SECONDS) SUITES=fuzz tests/run-all

# Everything, as CI runs it: unit (applets and exhaustive faults), the same
# under ASan/UBSan, real QEMU, the README's libvirt recipes, the test VM,
# the fuzzers.
check: migbox migbox-static asan fuzz build/static/libcommon.a build/asan/libcommon.a
	tests/run-all

# Debian packages migbox and migbox-static into build/deb (packaging/mkdeb)
deb: migbox migbox-static man
	packaging/mkdeb build/deb

install: migbox man
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions
	install -m 755 migbox $(DESTDIR)$(PREFIX)/bin/migbox
	for a in $$(./migbox --list); do ln -sf migbox $(DESTDIR)$(PREFIX)/bin/$$a; done
	install -m 644 man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 644 completions/migbox.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/migbox
	install -d $(DESTDIR)$(PREFIX)/share/doc/migbox
	install -m 644 README.md LICENSE doc/stats-json.md doc/stats-json.schema.json \
		$(DESTDIR)$(PREFIX)/share/doc/migbox/

bench: migbox migbox-static
	bench/stream-dump.sh
	bench/parse-scaling.sh
	bench/multifd.sh
	bench/zerocopy.sh
	bench/rdma.sh

clean:
	rm -rf build migbox migbox-static

-include $(OBJS:.o=.d) $(STATIC_OBJS:.o=.d) $(ASAN_OBJS:.o=.d)
