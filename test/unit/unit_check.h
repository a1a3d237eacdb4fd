/*
 * unit_check.h
 *	  The pass/fail counters and CHECK of the standalone unit tests: each
 *	  test program includes it once and ends by printing
 *	  "N passed, M failed".
 */
#ifndef UNIT_CHECK_H
#define UNIT_CHECK_H

#include <stdio.h>

static int	passed;
static int	failed;

#define CHECK(cond, ...) \
	do { \
		if (cond) \
			passed++; \
		else \
		{ \
			failed++; \
			printf("FAIL %s:%d: ", __FILE__, __LINE__); \
			printf(__VA_ARGS__); \
			printf("\n"); \
		} \
	} while (0)

#endif							/* UNIT_CHECK_H */
