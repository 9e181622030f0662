# The reference TAM's objects (tam/*.c). This file is named to be included before every
# other mk file: the test support code is a thin layer over the TAM's message code
# (test/support/tam_builder.c calls tam/proto.c), so every program linking test/support
# (the tests, the benchmarks, the crash test, the fuzz targets) needs the TAM objects.
# Adding them to the support lists here puts them into every such rule, prerequisites
# and link line, whichever file the rule is in.
# The TAM and the support code (mock_wrap.c) build on lib/jose and lib/mocktee, which
# are libotrp-mocktee.a: the archive ends the object list, so it comes after them and
# before libotrp.a (STATIC_LIB) on every such link line.
TAM_SRCS := $(sort $(wildcard tam/*.c))
TAM_OBJS := $(TAM_SRCS:%.c=$(BUILD)/obj/%.o)
TEST_SUPPORT_SRCS += $(TAM_SRCS)
TEST_SUPPORT_OBJS += $(TAM_OBJS) $(MOCKTEE_STATIC)
