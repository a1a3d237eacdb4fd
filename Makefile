# lancedb: PGXS build.  `make && make install` (PG_CONFIG=... to pick a
# server); `make WERROR=1` turns warnings into errors (CI); `make NATIVE=1`
# tunes for the build machine (the default build is portable: SIMD paths
# are chosen at run time).

EXTENSION = lancedb
EXTVERSION = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" lancedb.control)
MODULE_big = lancedb

KERNEL_SRCS = src/kernels/distance.c src/kernels/distance_avx2.c

# Lance reader (plain C; its protobuf-c code is generated at build time)
LANCE_DIR = src/fdw/lance
include $(LANCE_DIR)/lance.mk
SRCS = src/lancedb.c $(KERNEL_SRCS) $(wildcard src/vector/*.c) \
	$(wildcard src/index/*.c) $(wildcard src/am/*.c) $(wildcard src/text/*.c) \
	$(wildcard src/fdw/*.c) $(wildcard src/worker/*.c) $(wildcard src/search/*.c) $(LANCE_SRCS)
OBJS = $(SRCS:.c=.o)

# Install script of the current version: the parts in sql/install/ (one per
# module, so modules are edited independently) concatenated in name order.
# Upgrade scripts (sql/lancedb--OLD--NEW.sql) are installed as they are;
# see docs/architecture.md.
INSTALL_PARTS = $(sort $(wildcard sql/install/*.sql))
DATA_built = $(EXTENSION)--$(EXTVERSION).sql
DATA = $(wildcard sql/lancedb--*--*.sql)

# pg_regress suites: every sql/*.sql that is not an install/upgrade script.
REGRESS = $(sort $(filter-out lancedb--%,$(basename $(notdir $(wildcard sql/*.sql)))))
REGRESS_OPTS = --inputdir=. --load-extension=lancedb

ICU_CFLAGS := $(shell pkg-config --cflags icu-uc)
ICU_LIBS := $(shell pkg-config --libs icu-uc)

PG_CPPFLAGS = -I$(srcdir)/src $(ICU_CFLAGS) -std=gnu11 -fvisibility=hidden \
	'-DPGDLLEXPORT=__attribute__((visibility("default")))'
ifeq ($(WERROR),1)
PG_CPPFLAGS += -Werror
endif
ifeq ($(NATIVE),1)
PG_CPPFLAGS += -march=native
endif
# OpenBLAS is loaded with dlopen (src/index/blas.c), not linked.
SHLIB_LINK = -ldl -lstemmer $(ICU_LIBS) $(LANCE_LIBS) -lm

EXTRA_CLEAN = $(LANCE_PB_C) $(LANCE_PB_H) results regression.diffs regression.out tmp_check log \
	test/unit/test_kernels bench/distance/bench_distance

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

$(EXTENSION)--$(EXTVERSION).sql: $(INSTALL_PARTS)
	cat $^ > $@

print-%:
	@echo '$($*)'
