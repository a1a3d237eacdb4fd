/*
 * lance_pb.c
 *	  protobuf-c allocator over the Lance allocation hooks, so that a hostile
 *	  message cannot make protobuf-c allocate past the configured cap.
 */
#include "lance_pb.h"

static void *
pb_alloc(void *arg, size_t size)
{
	(void) arg;
	return lance_alloc(size, NULL);
}

static void
pb_free(void *arg, void *ptr)
{
	(void) arg;
	lance_free(ptr);
}

ProtobufCAllocator lance_pb_allocator = {pb_alloc, pb_free, NULL};
