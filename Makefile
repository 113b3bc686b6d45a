# Builds the kernel (Embedded Swift), the boot ISO and osh, and runs the tests.
#   make        everything into build/
#   make run    boot the OS in QEMU with the serial console on this terminal (Ctrl-A x quits)
#   make test   every test; the last line is `N passed, N failed`
#   make bench  benchmarks, one `NAME VALUE UNIT` line per figure

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
KERNEL_ASM_OBJ := $(patsubst Sources/Kernel/%.S,$(BUILD)/kernel/%.o,$(KERNEL_ASM))
KERNEL_SHIM := Sources/Kernel/Arch/shim.h
LINKER_SCRIPT := Sources/Kernel/Boot/linker.ld

# Embedded Swift, freestanding x86_64: no SSE/MMX/x87 state, no red zone, DWARF for traces.
KERNEL_SWIFTFLAGS := -target x86_64-unknown-none-elf -enable-experimental-feature Embedded -wmo \
	-parse-as-library -Osize -g -D KERNEL -module-name Kernel -Xfrontend -function-sections \
	-Xcc -mno-red-zone -Xcc -mno-sse -Xcc -mno-sse2 -Xcc -mno-mmx \
	-Xfrontend -disable-stack-protector -import-objc-header $(KERNEL_SHIM) \
	-debug-prefix-map $(CURDIR)=. -Xllvm -generate-arange-section
KERNEL_ASFLAGS := -target x86_64-unknown-none-elf -g -mno-red-zone -mno-sse -mno-mmx -fdebug-prefix-map=$(CURDIR)=.

.PHONY: all deps kernel iso osh run test bench clean
all: kernel iso osh

deps:
	@scripts/deps.sh

kernel: $(BUILD)/kernel.elf

$(BUILD)/kernel/swift.o: $(KERNEL_SWIFT) $(KERNEL_SHIM) Makefile
	@mkdir -p $(dir $@)
	$(SWIFTC) $(KERNEL_SWIFTFLAGS) -c $(KERNEL_SWIFT) -o $@

$(BUILD)/kernel/%.o: Sources/Kernel/%.S Makefile
	@mkdir -p $(dir $@)
	$(CLANG) $(KERNEL_ASFLAGS) -c $< -o $@

$(BUILD)/kernel.elf: $(BUILD)/kernel/swift.o $(KERNEL_ASM_OBJ) $(LINKER_SCRIPT)
	$(LLD) -T $(LINKER_SCRIPT) --gc-sections --build-id=sha1 -z max-page-size=4096 -z noexecstack -nostdlib -static \
		-o $@ $(KERNEL_ASM_OBJ) $(BUILD)/kernel/swift.o

iso: $(BUILD)/os.iso

# The root server goes in as the module `root` when it is built (rebuilt when it changes; the wildcard
# is empty, and the ISO kernel-only, while it does not exist).
ROOT_SERVER := $(BUILD)/servers/root.elf
$(BUILD)/os.iso: $(BUILD)/kernel.elf scripts/make-iso.sh $(wildcard $(ROOT_SERVER)) | deps
	scripts/make-iso.sh $(BUILD)/kernel.elf $@ "" $(if $(wildcard $(ROOT_SERVER)),$(ROOT_SERVER):root)

# SwiftPM knows what changed; build/osh is refreshed only when the binary did.
osh:
	$(SWIFT) build --product osh
	@mkdir -p $(BUILD)
	@install -C .build/debug/osh $(BUILD)/osh

run: deps all
	$(BUILD)/osh boot

test: deps all
	@scripts/test.sh

bench: deps all
	@scripts/bench.sh

clean:
	rm -rf $(BUILD)
