/*
 * lance_pb.h
 *	  Internal: the generated protobuf-c definitions and an allocator that
 *	  routes protobuf-c through the capped Lance allocation hooks.
 */
#ifndef LANCE_PB_H
#define LANCE_PB_H

#include "lance.pb-c.h"
#include "lance_util.h"

extern ProtobufCAllocator lance_pb_allocator;

/* Largest protobuf message the reader unpacks (manifests, column metadata). */
#define LANCE_MAX_PB_BYTES	(UINT64_C(256) << 20)

#endif							/* LANCE_PB_H */
