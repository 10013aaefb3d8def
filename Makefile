# coho — build, unit tests and the whole test suite.
#
#   make                      native build (./coho, ./lkvm); runs guests only on arm64 hosts
#   make ARCH=arm64           static aarch64 build in build/arm64/ (cross on x86_64)
#   make check                every test: native + ASan/UBSan unit tests, aarch64 unit
#                             tests under qemu-aarch64-static, nested end-to-end boots
#   make check-format | check-cli | check-fuzz | check-unit | check-asan | check-arm64-unit | check-e2e
#   make install PREFIX=/usr/local DESTDIR=

HOST_ARCH := $(shell uname -m | sed -e 's/aarch64/arm64/' -e 's/x86_64/x86/')
ARCH ?= $(HOST_ARCH)
SAN ?=

ifeq ($(ARCH),arm64)
  ifneq ($(HOST_ARCH),arm64)
    CROSS_COMPILE ?= aarch64-linux-gnu-
  endif
endif
CC := $(CROSS_COMPILE)gcc

# Objects of each flavour live apart so native, sanitizer and cross builds never mix.
O := build/$(ARCH)$(if $(SAN),-san)
ifeq ($(ARCH)$(SAN),$(HOST_ARCH))
  BIN_DIR := .
else
  BIN_DIR := $(O)
endif

VERSION := $(shell git describe --always --dirty 2>/dev/null || echo unknown)

WARN := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Wformat=2 -Wvla
CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 $(WARN) -I. -D_GNU_SOURCE -DCOHO_VERSION='"$(VERSION)"' -MMD -MP
LDLIBS := -lfdt -lz -lpthread

ifeq ($(ARCH),arm64)
  # Debian's arm64 libfdt-dev cannot be installed beside the native one, so
  # scripts/deps.sh unpacks the arm64 libfdt and zlib into build/deps/arm64.
  ARM64_DEPS ?= build/deps/arm64
  ifneq ($(HOST_ARCH),arm64)
    CFLAGS += -isystem $(ARM64_DEPS)/usr/include
    LDFLAGS += -L$(ARM64_DEPS)/usr/lib/aarch64-linux-gnu
  endif
  # Static: L1 test hosts and minimal systems have no libraries. Unused
  # sections are dropped so fewer text pages are mapped into coho's RSS.
  CFLAGS += -ffunction-sections -fdata-sections
  LDFLAGS += -static -Wl,--gc-sections
endif

ifneq ($(SAN),)
  CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
  LDFLAGS += -fsanitize=address,undefined
endif

# Code that talks to arm64 KVM is built only where it can run (arm64/kvm/);
# elsewhere arm64/kvm-none.c stands in so the rest stays testable.
CORE_SRCS := $(filter-out main.c,$(wildcard *.c)) $(wildcard util/*.c hw/*.c net/*.c vfio/*.c virtio/*.c) \
	     $(filter-out arm64/kvm-none.c,$(wildcard arm64/*.c))
ifeq ($(ARCH),arm64)
  CORE_SRCS += $(wildcard arm64/kvm/*.c)
else
  CORE_SRCS += arm64/kvm-none.c
endif
CORE_OBJS := $(CORE_SRCS:%.c=$(O)/%.o) $(O)/guest/init-blob.o
TEST_SRCS := $(wildcard tests/unit/test_*.c)
TESTS := $(TEST_SRCS:tests/unit/%.c=$(O)/tests/%)

.PHONY: all tests check check-cli check-fuzz check-format check-unit check-asan check-arm64-unit check-e2e install clean

all: $(BIN_DIR)/coho $(BIN_DIR)/lkvm

$(BIN_DIR)/coho: $(O)/main.o $(O)/libcoho.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN_DIR)/lkvm: $(BIN_DIR)/coho
	ln -sf coho $@

$(O)/libcoho.a: $(CORE_OBJS)
	rm -f $@
	$(CROSS_COMPILE)ar rcs $@ $^

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# The default guest's /init (default_guest.c): a static aarch64 program whatever
# the flavour, embedded in coho as bytes by guest/init-blob.S (.incbin).
GUEST_CROSS ?= $(if $(filter arm64,$(HOST_ARCH)),,$(or $(CROSS_COMPILE),aarch64-linux-gnu-))
GUEST_CFLAGS := -std=gnu11 -Os -static -s $(WARN) -D_GNU_SOURCE -ffunction-sections \
		-fdata-sections -Wl,--gc-sections

$(O)/guest/init: guest/init.c
	@mkdir -p $(dir $@)
	$(GUEST_CROSS)gcc $(GUEST_CFLAGS) -o $@ $<

$(O)/guest/init-blob.o: guest/init-blob.S $(O)/guest/init
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DCOHO_GUEST_INIT='"$(O)/guest/init"' -c -o $@ $<

$(O)/tests/%: $(O)/tests/unit/%.o $(O)/libcoho.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

tests: $(TESTS)

check-cli: all
	$(MAKE) SAN=1 all
	@bash tests/cli/run.sh $(BIN_DIR)/coho cli
	@ASAN_OPTIONS=detect_leaks=1 bash tests/cli/run.sh build/$(ARCH)-san/coho cli-asan

check-fuzz:
	@bash tests/fuzz/run.sh

check-format:
	@bash tests/check-format.sh

check-unit: tests
	@bash tests/run-unit.sh "$(O)/tests" ""

check-asan:
	$(MAKE) SAN=1 tests
	@ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		bash tests/run-unit.sh "build/$(ARCH)-san/tests" ""

check-arm64-unit:
	$(MAKE) ARCH=arm64 tests
	@bash tests/run-unit.sh build/arm64/tests qemu-aarch64-static

check-e2e:
	$(MAKE) ARCH=arm64 all
	@bash tests/e2e/run.sh build/arm64/coho

check:
	@bash tests/check.sh

PREFIX ?= /usr/local
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BIN_DIR)/coho $(DESTDIR)$(PREFIX)/bin/coho
	ln -sf coho $(DESTDIR)$(PREFIX)/bin/lkvm
	install -d $(DESTDIR)$(MANDIR)/man1
	install -m 0644 docs/coho.1 $(DESTDIR)$(MANDIR)/man1/coho.1
	ln -sf coho.1 $(DESTDIR)$(MANDIR)/man1/lkvm.1
	install -d $(DESTDIR)$(BASHCOMPDIR)
	install -m 0644 scripts/coho.bash-completion $(DESTDIR)$(BASHCOMPDIR)/coho
	ln -sf coho $(DESTDIR)$(BASHCOMPDIR)/lkvm

# What `make install` puts where, the man page and the shell completion.
.PHONY: check-install
check-install: all
	@MAKE="$(MAKE)" bash tests/cli/install.sh $(BIN_DIR)/coho install

clean:
	rm -rf build/x86 build/x86-san build/arm64 build/arm64-san coho lkvm

-include $(shell find build -name '*.d' 2>/dev/null)
