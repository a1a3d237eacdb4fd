/*
 * hnswstats.c
 *	  lancedb.index_stats for lance_hnsw indexes (called from ivfstats.c):
 *	  layers, live, deleted and free elements, elements per level, size.
 */
#include "postgres.h"

#include "am/hnsw.h"
#include "storage/bufmgr.h"
#include "utils/rel.h"

static const char *
HnswQuantName(int kind)
{
	switch (kind)
	{
		case QUANT_FLAT:
			return "none";
		case QUANT_SQ:
			return "sq";
		case QUANT_PQ:
			return "pq";
	}
	return "unknown";
}

void
HnswStatsJson(Relation index, StringInfo buf)
{
	HnswIndexInfo *info = HnswGetInfo(index);
	HnswMetaPageData meta = info->meta;
	HnswOptions *opts = (HnswOptions *) index->rd_options;
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);
	uint64		live = 0;
	uint64		deleted = 0;
	uint64		freed = 0;
	uint64		per_level[HNSW_MAX_LEVEL + 1] = {0};
	int			top = -1;

	for (BlockNumber blk = HNSW_METAPAGE_BLKNO + 1; blk < nblocks; blk++)
	{
		Buffer		b = ReadBuffer(index, blk);
		Page		page;

		LockBuffer(b, BUFFER_LOCK_SHARE);
		page = BufferGetPage(b);
		if (!PageIsNew(page) && HnswPageGetOpaque(page)->page_id == HNSW_PAGE_ID &&
			HnswPageGetOpaque(page)->page_type == HNSW_PAGE_ELEMENT)
		{
			OffsetNumber maxoff = PageGetMaxOffsetNumber(page);

			for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
			{
				HnswElementTuple tup = HnswGetElement(index, page, blk, off,
													  meta.data_size, meta.m);

				if (tup->flags & HNSW_ELEM_FREE)
				{
					freed++;
					continue;
				}
				if (tup->flags & HNSW_ELEM_DELETED)
				{
					deleted++;
					continue;
				}
				live++;
				for (int l = 0; l <= tup->level; l++)
					per_level[l]++;
				top = Max(top, tup->level);
			}
		}
		UnlockReleaseBuffer(b);
	}

	appendStringInfo(buf,
					 "{\"index_type\": \"lance_hnsw\", \"metric\": \"%s\", "
					 "\"quantizer\": \"%s\", \"configured_quantizer\": \"%s\", "
					 "\"dimensions\": %u, \"m\": %u, \"ef_construction\": %u, "
					 "\"element_bytes\": %u, "
					 "\"layers\": %d, \"entry_level\": %d, "
					 "\"num_indexed_rows\": " UINT64_FORMAT ", \"num_unindexed_rows\": 0, "
					 "\"nodes\": " UINT64_FORMAT ", \"deleted_nodes\": " UINT64_FORMAT ", "
					 "\"free_slots\": " UINT64_FORMAT ", \"repaired_nodes\": " UINT64_FORMAT ", "
					 "\"rows_at_build\": " UINT64_FORMAT ", \"nodes_per_layer\": [",
					 info->metric->name, HnswQuantName(meta.qkind),
					 HnswQuantName(opts ? opts->quantizer : QUANT_FLAT),
					 meta.dim, meta.m, meta.ef_construction, meta.data_size,
					 top + 1, meta.entry_level, live, live + deleted, deleted,
					 freed, meta.n_repaired,
					 meta.rows_built);
	for (int l = 0; l <= top; l++)
		appendStringInfo(buf, "%s" UINT64_FORMAT, l ? ", " : "", per_level[l]);
	appendStringInfo(buf, "], \"pages\": %u, \"bytes\": " UINT64_FORMAT "}",
					 nblocks, (uint64) nblocks * BLCKSZ);
}
