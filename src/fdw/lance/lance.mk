# Build fragment for the Lance reader (src/fdw/lance).  Include it after
# setting LANCE_DIR to this directory as seen from the including Makefile
# (default: src/fdw/lance, i.e. the top-level Makefile).
#
# Provides LANCE_SRCS (plain-C reader sources including the generated
# protobuf-c source), LANCE_HDRS, LANCE_PB_C/H, LANCE_LIBS, and the rule that
# runs protoc-c.  Generated files are build products, never committed.

LANCE_DIR ?= src/fdw/lance
PROTOC_C ?= protoc-c

LANCE_PROTO = $(LANCE_DIR)/lance.proto
LANCE_PB_C = $(LANCE_DIR)/lance.pb-c.c
LANCE_PB_H = $(LANCE_DIR)/lance.pb-c.h
LANCE_SRCS = $(filter-out $(LANCE_PB_C),$(wildcard $(LANCE_DIR)/*.c)) $(LANCE_PB_C)
LANCE_OBJS = $(LANCE_SRCS:.c=.o)
LANCE_HDRS = $(wildcard $(LANCE_DIR)/*.h) $(LANCE_PB_H)
LANCE_LIBS = -lprotobuf-c -lzstd -llz4 -lroaring

# Rules below must not become the including Makefile's default goal.
lance_saved_goal := $(.DEFAULT_GOAL)

# A pattern rule with two targets is one recipe run (no double protoc-c
# under make -j).
$(LANCE_DIR)/%.pb-c.c $(LANCE_DIR)/%.pb-c.h: $(LANCE_DIR)/%.proto
	$(PROTOC_C) --c_out=$(LANCE_DIR) --proto_path=$(LANCE_DIR) $<

# Every reader object (and its JIT bitcode) needs the generated header first.
$(LANCE_OBJS) $(LANCE_OBJS:.o=.bc): $(LANCE_PB_H)

# protoc-c's initializers for oneof members trip gcc's -Wmissing-braces.
$(LANCE_DIR)/lance.pb-c.o: CFLAGS += -Wno-missing-braces

.DEFAULT_GOAL := $(lance_saved_goal)
