# Builds the kernel (Embedded Swift), the boot ISO and osh, and runs the tests.
#   make        everything into build/
#   make run    boot the OS in QEMU with build/disk.img and the serial console on this terminal (Ctrl-A x quits)
#   make test   every test; the last line is `N passed, N failed`
#   make bench  benchmarks, one `NAME VALUE UNIT` line per figure
# ACCEL=tcg|kvm|auto picks the accelerator (run: auto, which uses KVM only after its check passed on
# this host; test: tcg); OSH_ARGS=... adds options to `osh boot` (run, and the tests' real-kernel boots).
#   make soak   the syscall fuzzer, 10^7 calls on 1 and on 4 CPUs (SOAK_CALLS=N for fewer); `N passed, N failed`

SHELL := /bin/bash
BUILD := build
SWIFTC ?= $(shell command -v swiftc 2>/dev/null || echo /opt/swift/usr/bin/swiftc)
TOOLBIN := $(dir $(SWIFTC))
CLANG := $(TOOLBIN)clang
LLD := $(TOOLBIN)ld.lld
SWIFT := $(TOOLBIN)swift
export PATH := $(TOOLBIN):$(PATH)

KERNEL_SWIFT := $(sort $(wildcard Sources/ABI/*.swift) $(shell find Sources/Kernel -name '*.swift'))
KERNEL_ASM := $(sort $(shell find Sources/Kernel -name '*.S'))
KERNEL_ASM_OBJ := $(patsubst Sources/Kernel/%.S,$(BUILD)/kernel/%.o,$(KERNEL_ASM)) $(BUILD)/kernel/libc.o
KERNEL_SHIM := Sources/Kernel/Arch/shim.h
LINKER_SCRIPT := Sources/Kernel/Boot/linker.ld

# DWARF that gdb reads as well as lldb and libdw: no .debug_names (Swift's lldb tuning emits one that
# lists only the Swift unit, so gdb never sees the others), no skeleton units for the imported Clang
# modules (they point to .pcm files in a module cache), and full DWARF types so gdb can print values.
SWIFT_DEBUGFLAGS := -Xllvm -accel-tables=Disable -Xfrontend -no-clang-module-breadcrumbs -gdwarf-types

# Embedded Swift, freestanding x86_64: no SSE/MMX/x87 state, no red zone, DWARF for traces.
KERNEL_SWIFTFLAGS := -target x86_64-unknown-none-elf -enable-experimental-feature Embedded -wmo \
	-parse-as-library -Osize -g -D KERNEL -module-name Kernel -Xfrontend -function-sections \
	-Xcc -mno-red-zone -Xcc -mno-sse -Xcc -mno-sse2 -Xcc -mno-mmx \
	-Xfrontend -disable-stack-protector -import-objc-header $(KERNEL_SHIM) \
	-debug-prefix-map $(CURDIR)=. -Xllvm -generate-arange-section -Xllvm -enable-shrink-wrap=false $(SWIFT_DEBUGFLAGS)
KERNEL_ASFLAGS := -target x86_64-unknown-none-elf -g -mno-red-zone -mno-sse -mno-mmx -fdebug-prefix-map=$(CURDIR)=.

# User programs: each directory Sources/Servers/<name>/ (but Runtime) is one program, build/servers/<name>.elf,
# compiled as one Embedded Swift module with the ABI and the runtime and linked static at 0x400000.
# User mode may use SSE and the red zone; frame pointers stay for stack traces. -assert-config Debug keeps
# the messages of fatalError/precondition (printed through putchar before the trap).
SERVERS := $(filter-out Runtime,$(patsubst Sources/Servers/%/,%,$(wildcard Sources/Servers/*/)))
# User programs share the kernel core's markup writer, ELF helpers and clock arithmetic (pure Swift).
# Of Sources/Formats every program gets what the runtime uses (RUNTIME_FORMATS); a program lists the
# other Formats files it uses in Sources/Servers/NAME/formats (file names without .swift, globs allowed,
# `#` comments), and gets all of Formats when it has no such file. Each program is one whole-module
# compile, so every Formats file it does not need costs build time in every program.
RUNTIME_FORMATS := Sources/Formats/ChaCha20.swift Sources/Formats/BlockDevice.swift
SERVER_RUNTIME_SWIFT := $(sort $(wildcard Sources/ABI/*.swift) $(shell find Sources/Servers/Runtime -name '*.swift') \
	Sources/Kernel/Core/Markup.swift Sources/Kernel/Core/ELF.swift Sources/Kernel/Core/SplitMix.swift Sources/Kernel/Core/TimeScale.swift \
	$(RUNTIME_FORMATS))
# $(1) = program name: the Formats files it compiles beside the runtime's.
server_formats = $(filter-out $(RUNTIME_FORMATS),$(if $(wildcard Sources/Servers/$(1)/formats),\
	$(sort $(wildcard $(patsubst %,Sources/Formats/%.swift,$(shell sed 's/\#.*//' Sources/Servers/$(1)/formats)))),\
	$(wildcard Sources/Formats/*.swift)))
SERVER_RUNTIME_ASM := $(sort $(shell find Sources/Servers/Runtime -name '*.S'))
SERVER_RUNTIME_ASM_OBJ := $(patsubst Sources/Servers/Runtime/%.S,$(BUILD)/servers/runtime/%.o,$(SERVER_RUNTIME_ASM)) \
	$(BUILD)/servers/runtime/libc.o
SERVER_SHIM := Sources/Servers/Runtime/runtime.h
SERVER_LINKER_SCRIPT := Sources/Servers/Runtime/user.ld
SERVER_SWIFTFLAGS := -target x86_64-unknown-none-elf -enable-experimental-feature Embedded -wmo \
	-parse-as-library -Osize -assert-config Debug -g -D USERSPACE -Xfrontend -function-sections \
	-Xfrontend -disable-stack-protector -import-objc-header $(SERVER_SHIM) \
	-debug-prefix-map $(CURDIR)=. -Xllvm -generate-arange-section -Xllvm -enable-shrink-wrap=false $(SWIFT_DEBUGFLAGS)
SERVER_ASFLAGS := -target x86_64-unknown-none-elf -g -fdebug-prefix-map=$(CURDIR)=.
SERVER_LDFLAGS := -T $(SERVER_LINKER_SCRIPT) --gc-sections --build-id=sha1 -z max-page-size=4096 \
	-z noexecstack -nostdlib -static
# Unicode data for String comparison and normalization in user programs (the kernel has no String).
SERVER_LIBS := $(wildcard $(TOOLBIN)../lib/swift/embedded/x86_64-unknown-none-elf/libswiftUnicodeDataTables.a)

.PHONY: all deps kernel iso osh servers initfs disk run test bench soak clean
all: kernel iso osh servers initfs disk

# The kernel command line of `make run`: the disk's FAT32 partition is fs:/// (make run CMDLINE=… for others).
CMDLINE ?= root=LABEL=OSDISK

# build/disk.img: a GPT disk with a FAT32 partition labelled OSDISK and a few files (scripts/make-disk.sh),
# made once: `make run` boots with it and what the guest writes there stays across boots (rm it for a
# fresh one).
disk: $(BUILD)/disk.img
$(BUILD)/disk.img: | deps
	@mkdir -p $(BUILD)
	scripts/make-disk.sh $@ 64

deps:
	@scripts/deps.sh

kernel: $(BUILD)/kernel.elf

$(BUILD)/kernel/swift.o: $(KERNEL_SWIFT) $(KERNEL_SHIM) Makefile
	@mkdir -p $(dir $@)
	$(SWIFTC) $(KERNEL_SWIFTFLAGS) -c $(KERNEL_SWIFT) -o $@

$(BUILD)/kernel/%.o: Sources/Kernel/%.S Sources/Kernel/Arch/frame.inc Makefile
	@mkdir -p $(dir $@)
	$(CLANG) $(KERNEL_ASFLAGS) -c $< -o $@

# Sources/Shared/libc.S: memcpy and friends, for the kernel and for user programs.
$(BUILD)/kernel/libc.o: Sources/Shared/libc.S Makefile
	@mkdir -p $(dir $@)
	$(CLANG) $(KERNEL_ASFLAGS) -c $< -o $@

$(BUILD)/servers/runtime/libc.o: Sources/Shared/libc.S Makefile
	@mkdir -p $(dir $@)
	$(CLANG) $(SERVER_ASFLAGS) -c $< -o $@

$(BUILD)/kernel.elf: $(BUILD)/kernel/swift.o $(KERNEL_ASM_OBJ) $(LINKER_SCRIPT)
	$(LLD) -T $(LINKER_SCRIPT) --gc-sections --build-id=sha1 -z max-page-size=4096 -z noexecstack -nostdlib -static \
		-o $@ $(KERNEL_ASM_OBJ) $(BUILD)/kernel/swift.o

servers: $(patsubst %,$(BUILD)/servers/%.elf,$(SERVERS))

$(BUILD)/servers/runtime/%.o: Sources/Servers/Runtime/%.S Makefile
	@mkdir -p $(dir $@)
	$(CLANG) $(SERVER_ASFLAGS) -c $< -o $@

# $(1) = program name: its Swift object (the program's sources with the ABI and the runtime) and its ELF.
# The Swift module name is the program name with `-` and `.` made `_` (virtio-blk, fsd.fat32).
define SERVER_RULES
$(BUILD)/servers/$(1)/swift.o: $(SERVER_RUNTIME_SWIFT) $(call server_formats,$(1)) $(wildcard Sources/Servers/$(1)/formats) $(sort $(wildcard Sources/Servers/$(1)/*.swift)) $(SERVER_SHIM) Makefile
	@mkdir -p $$(dir $$@)
	$(SWIFTC) $(SERVER_SWIFTFLAGS) -module-name $(subst .,_,$(subst -,_,$(1))) -c $(SERVER_RUNTIME_SWIFT) $(call server_formats,$(1)) $(sort $(wildcard Sources/Servers/$(1)/*.swift)) -o $$@

# The program's manifest (Sources/Servers/NAME/manifest) goes into its ELF file as the note .note.manifest.
$(BUILD)/servers/$(1)/manifest.note: Sources/Servers/$(1)/manifest scripts/manifest-note.py
	@mkdir -p $$(dir $$@)
	scripts/manifest-note.py $$< $$@

$(BUILD)/servers/$(1).elf: $(BUILD)/servers/$(1)/swift.o $(SERVER_RUNTIME_ASM_OBJ) $(SERVER_LINKER_SCRIPT) $(BUILD)/servers/$(1)/manifest.note
	$(LLD) $(SERVER_LDFLAGS) -o $$@ $(SERVER_RUNTIME_ASM_OBJ) $(BUILD)/servers/$(1)/swift.o $(SERVER_LIBS)
	$(TOOLBIN)llvm-objcopy --add-section .note.manifest=$(BUILD)/servers/$(1)/manifest.note $$@
endef
$(foreach server,$(SERVERS),$(eval $(call SERVER_RULES,$(server))))

# The user heap on the host (Tests/RuntimeHost): not part of `make test`, which runs SwiftPM's suites.
.PHONY: runtime-host-test
runtime-host-test:
	@mkdir -p $(BUILD)/runtime-host-test
	$(SWIFTC) -O -wmo -module-name RuntimeHost -import-objc-header Tests/RuntimeHost/host.h -o $(BUILD)/runtime-host-test/heap \
		Tests/RuntimeHost/main.swift Sources/Servers/Runtime/Heap.swift Sources/Servers/Runtime/SyscallWrappers.swift \
		Sources/ABI/Objects.swift Sources/ABI/Syscalls.swift
	$(BUILD)/runtime-host-test/heap

# Sources/Shared/libc.S on the host against the C library (Tests/LibcHost): not part of `make test`.
.PHONY: libc-host-test
libc-host-test:
	@mkdir -p $(BUILD)/libc-host-test
	$(CLANG) -c -Dmemcpy=my_memcpy -Dmemmove=my_memmove -Dmemset=my_memset -Dbzero=my_bzero -Dmemcmp=my_memcmp \
		-Dfree=my_free -Dheap_free=my_heap_free Sources/Shared/libc.S -o $(BUILD)/libc-host-test/libc.o
	$(CC) -O1 -o $(BUILD)/libc-host-test/libc-test Tests/LibcHost/libc_test.c $(BUILD)/libc-host-test/libc.o
	$(BUILD)/libc-host-test/libc-test

# The userspace test suite (systest) under Tests/RuntimeHost/fakekernel.c, a ptrace model of the syscall ABI (Linux only; no initfsd there, so the initfs.* tests fail).
.PHONY: runtime-fake-test
runtime-fake-test: $(BUILD)/servers/systest.elf
	@mkdir -p $(BUILD)/runtime-host-test
	$(CC) -O1 -o $(BUILD)/runtime-host-test/fakekernel Tests/RuntimeHost/fakekernel.c
	$(BUILD)/runtime-host-test/fakekernel $(BUILD)/servers/systest.elf

# The initfs: every program but root, under sbin/ when its manifest file says `kind=server` (the boot
# servers root starts, and init) and under bin/ otherwise; Sources/initfs/ as it is (etc/init.conf, …).
# A ustar archive with fixed owners, times and order (the same bytes every build), compressed with zstd -19.
# The programs go in stripped (no DWARF, no symbol table; the build ID and manifest notes stay), about a
# sixth of their size: root unpacks every byte at boot, and osh finds the full ELF in build/servers by
# build ID (osh trace) or as a module (osh boot, attach, profile).
# accelcheck is a root of its own (osh accel --check boots it as root), not a program for the initfs.
INITFS_PROGRAMS := $(filter-out root accelcheck,$(SERVERS))
INITFS_SBIN := $(foreach p,$(INITFS_PROGRAMS),$(if $(shell grep -qx 'kind=server' Sources/Servers/$(p)/manifest 2>/dev/null && echo y),$(p)))
INITFS_BIN := $(filter-out $(INITFS_SBIN),$(INITFS_PROGRAMS))
INITFS_FILES := $(shell find Sources/initfs -type f 2>/dev/null)
# The core utilities: one image, bin/coreutils, and these names as hard links to it (tar stores each as a
# link; initfsd serves it as a file). The list matches Sources/Servers/coreutils/Main.swift's table.
UTILITIES := cat cp date df dmesg echo false free grep head hexdump kill ls lspci mkdir mount mv ps rm sleep \
	stat syscalls tail true uptime wc yes
INITFS_STRIP := $(TOOLBIN)llvm-objcopy --strip-all --keep-section=.note.manifest
initfs: $(BUILD)/initfs.tar.zst

$(BUILD)/initfs.tar.zst: $(patsubst %,$(BUILD)/servers/%.elf,$(INITFS_PROGRAMS)) $(INITFS_FILES) $(wildcard Sources/Servers/*/manifest) Makefile | deps
	@rm -rf $(BUILD)/initfs && mkdir -p $(BUILD)/initfs/bin $(BUILD)/initfs/sbin $(BUILD)/initfs/etc
	@for p in $(INITFS_BIN); do $(INITFS_STRIP) $(BUILD)/servers/$$p.elf $(BUILD)/initfs/bin/$$p; done
	@for p in $(INITFS_SBIN); do $(INITFS_STRIP) $(BUILD)/servers/$$p.elf $(BUILD)/initfs/sbin/$$p; done
	@if [ -d Sources/initfs ]; then cp -r Sources/initfs/. $(BUILD)/initfs/; fi
	@for u in $(UTILITIES); do ln $(BUILD)/initfs/bin/coreutils $(BUILD)/initfs/bin/$$u; done
	tar --format=ustar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C $(BUILD)/initfs -cf $(BUILD)/initfs.tar .
	zstd -19 -q -f --rm $(BUILD)/initfs.tar -o $@

iso: $(BUILD)/os.iso

# The root server goes in as the boot module `root`, the initfs as `initfs`.
ROOT_SERVER := $(BUILD)/servers/root.elf
$(BUILD)/os.iso: $(BUILD)/kernel.elf $(ROOT_SERVER) $(BUILD)/initfs.tar.zst scripts/make-iso.sh | deps
	scripts/make-iso.sh $(BUILD)/kernel.elf $@ "" $(ROOT_SERVER):root $(BUILD)/initfs.tar.zst:initfs

# SwiftPM knows what changed; build/osh is refreshed only when the binary did. It is the optimized
# (release) build: its sampling, symbolizing and serial handling run several times faster than a debug
# build's (osh.profile.overhead 1.48 against 2.42); `make OSH_CONFIG=debug` installs the debug one.
OSH_CONFIG ?= release
osh:
	$(SWIFT) build -c $(OSH_CONFIG) --product osh
	@mkdir -p $(BUILD)
	@install -C .build/$(OSH_CONFIG)/osh $(BUILD)/osh

ACCEL ?=
OSH_ARGS ?=
ifneq ($(filter-out tcg kvm auto,$(ACCEL)),)
$(error ACCEL must be tcg, kvm or auto (got '$(ACCEL)'))
endif

run: deps all
	$(BUILD)/osh boot --accel $(or $(ACCEL),auto) --disk $(BUILD)/disk.img --cmdline "$(CMDLINE)" $(OSH_ARGS)

# The integration tests boot with OSH_TEST_ACCEL (tcg unless ACCEL says otherwise) and OSH_TEST_ARGS.
test: deps all
	@OSH_TEST_ACCEL=$(or $(ACCEL),tcg) OSH_TEST_ARGS="$(OSH_ARGS)" scripts/test.sh

# Standard output carries only the figures (`NAME VALUE UNIT`); building goes to standard error.
bench: deps
	@$(MAKE) --no-print-directory all >&2
	@scripts/bench.sh

# The fuzzer over many seeds (scripts/soak.py; SOAK_CALLS, SOAK_PER_SEED, SOAK_CPUS… set its size).
soak: deps
	@$(MAKE) --no-print-directory all >&2
	@scripts/soak.py $(BUILD)

clean:
	rm -rf $(BUILD)
