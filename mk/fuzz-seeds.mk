# make check: every libFuzzer target in FUZZ_TARGETS has seeds where the generic fuzz
# rules look (test/fuzz/corpus/NAME/); the count goes into build/results.
.PHONY: check-fuzz-seeds
check-fuzz-seeds:
	$(Q)sh scripts/check-fuzz-seeds.sh build/results $(FUZZ_TARGETS)
CHECK_EXTRA += check-fuzz-seeds
