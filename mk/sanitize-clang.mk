# make check-clang-ubsan: every test program built with clang under AddressSanitizer and
# UBSan plus checks gcc's -fsanitize=undefined leaves out, in build/clang-ubsan, and run.
# Part of make ci-extra.
#   float-cast-overflow  a double converted (cast or not) to an integer type that cannot
#                        hold it: a number of state.json or tee.json converted before its
#                        range was checked
#   implicit-conversion  an integer silently truncated or changed in sign. -Wconversion
#                        already makes the code spell out (cast) nearly every such
#                        conversion, and a cast is not checked, so this finds what slips
#                        past the warning; the tree is clean under it.

# -Wno-for-loop-analysis: clang's note on a loop variable stepped in the body too is
# about the deliberate escape-skipping loops (json_strict.c, otrp-tee-sim); the gcc
# builds keep every other warning an error, and so does this one.
CLANG_UBSAN_CC ?= clang-14
CLANG_UBSAN_BUILD := build/clang-ubsan
CLANG_UBSAN_SANITIZE := address,undefined,float-cast-overflow,implicit-conversion

.PHONY: check-clang-ubsan
check-clang-ubsan:
	$(Q)$(MAKE) --no-print-directory BUILD=$(CLANG_UBSAN_BUILD) CC=$(CLANG_UBSAN_CC) \
	    SANITIZE=$(CLANG_UBSAN_SANITIZE) CFLAGS="$(CFLAGS) -Wno-for-loop-analysis" tests tools
	$(Q)rm -f $(CLANG_UBSAN_BUILD)/results
	$(Q)ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	    sh scripts/run-tests.sh $(CLANG_UBSAN_BUILD) $(TEST_BINS:$(BUILD)/%=$(CLANG_UBSAN_BUILD)/%)
	$(Q)sh scripts/summary.sh $(CLANG_UBSAN_BUILD)/results

CI_EXTRA += check-clang-ubsan
