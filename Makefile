# looplynx build.
#
#   make               release build: build/looplynx, build/liblooplynx.a, build/looplynx-tests
#   make test          release build, then the whole suite (tests/run_all.sh)
#   make MODE=asan     ASan+UBSan build in build/asan/
#   make MODE=tsan     TSan build in build/tsan/
#   make fuzz          libFuzzer binaries (clang) in build/fuzz/
#   make bench         kernel micro-benchmarks in build/bench-kernels, tokenizer
#                      load/encode speed in build/bench-tokenizer, model load
#                      time in build/bench-load and build/bench-load-nocheck
#                      (the load passes without their NaN/Inf check)
#
# Every .c under src/ goes into the library.  Only files named *_avx2.c,
# *_avx512.c and *_amx.c get ISA flags (they are entered only after the
# run-time check of their kernel tier, src/kernels/kernels_select.c).

MODE ?= release
CC ?= cc
ifeq ($(MODE),release)
  B := build
  OPT := -O2 -g
else ifeq ($(MODE),asan)
  B := build/asan
  OPT := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
else ifeq ($(MODE),tsan)
  B := build/tsan
  OPT := -O1 -g -fsanitize=thread
else
  $(error MODE must be release, asan or tsan)
endif

WARN := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wvla -Wformat=2 \
        -Wno-unused-parameter
PKG_CFLAGS := $(shell pkg-config --cflags jansson libpcre2-8 libmicrohttpd 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs jansson libpcre2-8 libmicrohttpd 2>/dev/null)

# Open MPI is optional at build time (the MPI link reports "not built with MPI"
# without it); .ci/run installs it so CI always has it.  TSan and ASan builds
# leave it out: the sanitizers do not understand Open MPI's internals.
MPI ?= $(if $(filter release,$(MODE)),$(shell command -v mpicc >/dev/null 2>&1 && echo 1 || echo 0),0)
ifeq ($(MPI),1)
  MPI_CFLAGS := $(shell mpicc --showme:compile) -DLLX_HAVE_MPI=1
  MPI_LIBS := $(shell mpicc --showme:link)
endif

CPPFLAGS += -Iinclude -Isrc -D_GNU_SOURCE
# -ffp-contract=off: no multiply-add fused behind the source's back, so the
# scalar reference kernels and the SIMD tiers round alike (bit-exact tests).
# GCC does not fuse under -std=c11 anyway; Clang does by default.
CFLAGS := -std=c11 -ffp-contract=off $(OPT) $(WARN) -pthread $(PKG_CFLAGS) $(EXTRA_CFLAGS)
LDLIBS := $(PKG_LIBS) $(MPI_LIBS) -lglpk -lm -pthread

LIB_SRC := $(sort $(wildcard src/*/*.c))
CLI_SRC := $(sort $(wildcard cli/*.c))
TEST_SRC := $(sort $(wildcard tests/*.c)) $(sort $(filter-out fuzz/libfuzzer_main.c,$(wildcard fuzz/*.c)))
BENCH_SRC := $(sort $(wildcard bench/*.c))

LIB_OBJ := $(LIB_SRC:%.c=$(B)/obj/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(B)/obj/%.o)
TEST_OBJ := $(TEST_SRC:%.c=$(B)/obj/%.o)
BENCH_OBJ := $(BENCH_SRC:%.c=$(B)/obj/%.o)

LIB := $(B)/liblooplynx.a
BIN := $(B)/looplynx
TESTBIN := $(B)/looplynx-tests
BENCHBIN := $(B)/bench-kernels
TOKBENCHBIN := $(B)/bench-tokenizer
LOADBENCHBIN := $(B)/bench-load $(B)/bench-load-nocheck
# the load passes (model/wscan.h) built without their check, for bench-load-nocheck
WSCAN_SRC := $(wildcard src/model/wscan*.c)
WSCAN_NC_OBJ := $(WSCAN_SRC:%.c=$(B)/obj-nocheck/%.o)

.PHONY: all test clean fuzz bench asan tsan demo
all: $(BIN) $(TESTBIN)

ISA_AVX2 := -mavx2 -mfma
ISA_AVX512 := $(ISA_AVX2) -mavx512f -mavx512dq -mavx512bw -mavx512vl -mavx512vnni
ISA_AMX := $(ISA_AVX512) -mamx-tile -mamx-int8

$(B)/obj/%_avx2.o: %_avx2.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(ISA_AVX2) -MMD -MP -c $< -o $@

$(B)/obj/%_avx512.o: %_avx512.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(ISA_AVX512) -MMD -MP -c $< -o $@

$(B)/obj/%_amx.o: %_amx.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(ISA_AMX) -MMD -MP -c $< -o $@

$(B)/obj-nocheck/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -DLLX_WSCAN_NO_CHECK $(if $(findstring _avx512,$*),$(ISA_AVX512),$(if $(findstring _avx2,$*),$(ISA_AVX2))) -MMD -MP -c $< -o $@

$(B)/obj/src/ring/link_mpi.o: src/ring/link_mpi.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(MPI_CFLAGS) -MMD -MP -c $< -o $@

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BIN): $(CLI_OBJ) $(LIB)
	$(CC) $(CFLAGS) -o $@ $(CLI_OBJ) $(LIB) $(LDLIBS)

$(TESTBIN): $(TEST_OBJ) $(LIB)
	$(CC) $(CFLAGS) -o $@ $(TEST_OBJ) $(LIB) $(LDLIBS)

$(BENCHBIN): $(BENCH_OBJ) $(LIB)
	$(CC) $(CFLAGS) -o $@ $(BENCH_OBJ) $(LIB) $(LDLIBS)

$(TOKBENCHBIN): $(B)/obj/bench/tokenizer/bench_tokenizer.o $(LIB)
	$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(B)/bench-load: $(B)/obj/bench/load/bench_load.o $(LIB)
	$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# the objects given before the library replace its wscan members
$(B)/bench-load-nocheck: $(B)/obj/bench/load/bench_load.o $(WSCAN_NC_OBJ) $(LIB)
	$(CC) $(CFLAGS) -o $@ $< $(WSCAN_NC_OBJ) $(LIB) $(LDLIBS)

bench: $(BENCHBIN) $(TOKBENCHBIN) $(LOADBENCHBIN)

test: all
	tests/run_all.sh

# The no-download main job: a random-weight GPT-2 (124M), generation in fp32,
# W8A8 quantization, generation on a 2-node ring, and the FPGA simulation.
DEMO := build/demo
demo: all
	@mkdir -p $(DEMO)
	./build/looplynx synth --config gpt2 --seed 1 --force -o $(DEMO)/gpt2-synth
	./build/looplynx info -m $(DEMO)/gpt2-synth
	./build/looplynx generate -m $(DEMO)/gpt2-synth -p "Earth is the" -n 24 --seed 1
	./build/looplynx quantize -m $(DEMO)/gpt2-synth --calib README.md --calib-tokens 1024 -o $(DEMO)/gpt2-synth.llx
	./build/looplynx generate -m $(DEMO)/gpt2-synth.llx -p "Earth is the" -n 24 --seed 1 --nodes 2 --threads 1
	./build/looplynx sim --nodes 2 --model gpt2-medium --prompt 128 --gen 512

asan:
	$(MAKE) MODE=asan all
tsan:
	$(MAKE) MODE=tsan all

# libFuzzer targets: one binary per fuzz/fuzz_*.c, built with clang.  The
# library is compiled file by file with the same ISA rule as above.
FUZZ_CC ?= clang
FUZZ_TARGETS := $(patsubst fuzz/fuzz_%.c,build/fuzz/fuzz_%,$(wildcard fuzz/fuzz_*.c))
FUZZ_FLAGS := -std=c11 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
              -Iinclude -Isrc -D_GNU_SOURCE -pthread $(PKG_CFLAGS)
FUZZ_OBJ := $(LIB_SRC:%.c=build/fuzz/obj/%.o)
.SECONDARY: $(FUZZ_OBJ) # pattern-rule prerequisites, kept so one changed file rebuilds one object
fuzz: $(FUZZ_TARGETS)
build/fuzz/obj/%_avx2.o: %_avx2.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(ISA_AVX2) -c $< -o $@
build/fuzz/obj/%_avx512.o: %_avx512.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(ISA_AVX512) -c $< -o $@
build/fuzz/obj/%_amx.o: %_amx.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(ISA_AMX) -c $< -o $@
build/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -c $< -o $@
build/fuzz/fuzz_%: fuzz/fuzz_%.c fuzz/libfuzzer_main.c $(FUZZ_OBJ)
	@mkdir -p build/fuzz
	$(FUZZ_CC) $(FUZZ_FLAGS) -DLLX_FUZZ_ENTRY=llx_fuzz_$* -o $@ \
	    $< fuzz/libfuzzer_main.c $(FUZZ_OBJ) $(PKG_LIBS) -lglpk -lm

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(BENCH_OBJ:.o=.d) $(B)/obj/bench/tokenizer/bench_tokenizer.d \
    $(B)/obj/bench/load/bench_load.d $(WSCAN_NC_OBJ:.o=.d)
