# The reference TAM's objects (tam/*.c). This file is named to be included before every
# other mk file: the test support code is a thin layer over the TAM's message code
# (test/support/tam_builder.c calls tam/proto.c), so every program linking test/support
# (the tests, the benchmarks, the crash test, the fuzz targets) needs the TAM objects.
# Adding them to the support lists here puts them into every such rule, prerequisites
# and link line, whichever file the rule is in.
TAM_SRCS := $(sort $(wildcard tam/*.c))
TAM_OBJS := $(TAM_SRCS:%.c=$(BUILD)/obj/%.o)
TEST_SUPPORT_SRCS += $(TAM_SRCS)
TEST_SUPPORT_OBJS += $(TAM_OBJS)
