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

/*
 * False if a message nests deeper than max_depth, reading every
 * length-delimited field that parses as a message as one.  protobuf-c
 * recurses without a limit, so encodings are checked before unpacking.
 */
extern bool lance_pb_depth_ok(const uint8_t *data, uint64_t len, int max_depth);

#endif							/* LANCE_PB_H */
