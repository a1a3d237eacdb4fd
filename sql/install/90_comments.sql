
--------------------------------------------------------------------------
-- comments (\dT+, \df+, \do+)
--------------------------------------------------------------------------

COMMENT ON TYPE vector IS 'float32 vector of 1 to 16000 dimensions; text and binary forms as pgvector';
COMMENT ON TYPE halfvec IS 'float16 vector of 1 to 16000 dimensions; text and binary forms as pgvector';

COMMENT ON FUNCTION l2_distance(vector, vector) IS 'Euclidean (L2) distance';
COMMENT ON FUNCTION l2_squared_distance(vector, vector) IS 'squared Euclidean distance';
COMMENT ON FUNCTION inner_product(vector, vector) IS 'inner (dot) product';
COMMENT ON FUNCTION vector_negative_inner_product(vector, vector) IS 'negative inner product (the <#> operator: smaller = more similar)';
COMMENT ON FUNCTION cosine_distance(vector, vector) IS '1 - cosine similarity; NaN if either vector is zero';
COMMENT ON FUNCTION l1_distance(vector, vector) IS 'taxicab (L1) distance';
COMMENT ON FUNCTION vector_dims(vector) IS 'number of dimensions';
COMMENT ON FUNCTION vector_norm(vector) IS 'Euclidean norm';
COMMENT ON FUNCTION l2_normalize(vector) IS 'the vector scaled to unit Euclidean norm (zero stays zero)';
COMMENT ON FUNCTION subvector(vector, integer, integer) IS 'elements from start (1-based) for count elements';
COMMENT ON FUNCTION binary_quantize(vector) IS 'bit string with a 1 where an element is positive';
COMMENT ON FUNCTION l2_distance(halfvec, halfvec) IS 'Euclidean (L2) distance';
COMMENT ON FUNCTION l2_squared_distance(halfvec, halfvec) IS 'squared Euclidean distance';
COMMENT ON FUNCTION inner_product(halfvec, halfvec) IS 'inner (dot) product';
COMMENT ON FUNCTION halfvec_negative_inner_product(halfvec, halfvec) IS 'negative inner product (the <#> operator: smaller = more similar)';
COMMENT ON FUNCTION cosine_distance(halfvec, halfvec) IS '1 - cosine similarity; NaN if either vector is zero';
COMMENT ON FUNCTION l1_distance(halfvec, halfvec) IS 'taxicab (L1) distance';
COMMENT ON FUNCTION vector_dims(halfvec) IS 'number of dimensions';
COMMENT ON FUNCTION l2_norm(halfvec) IS 'Euclidean norm';
COMMENT ON FUNCTION vector_norm(halfvec) IS 'Euclidean norm';
COMMENT ON FUNCTION l2_normalize(halfvec) IS 'the vector scaled to unit Euclidean norm (zero stays zero)';
COMMENT ON FUNCTION subvector(halfvec, integer, integer) IS 'elements from start (1-based) for count elements';
COMMENT ON FUNCTION binary_quantize(halfvec) IS 'bit string with a 1 where an element is positive';
COMMENT ON FUNCTION hamming_distance(bit, bit) IS 'number of differing bits';
COMMENT ON FUNCTION jaccard_distance(bit, bit) IS '1 - |a AND b| / |a OR b| (0 for two all-zero strings)';
COMMENT ON FUNCTION lancedb.simd_path() IS 'distance-kernel path in use (see lancedb.simd)';

COMMENT ON OPERATOR <->(vector, vector) IS 'L2 distance';
COMMENT ON OPERATOR <#>(vector, vector) IS 'negative inner product';
COMMENT ON OPERATOR <=>(vector, vector) IS 'cosine distance';
COMMENT ON OPERATOR <+>(vector, vector) IS 'L1 distance';
COMMENT ON OPERATOR +(vector, vector) IS 'element-wise sum';
COMMENT ON OPERATOR -(vector, vector) IS 'element-wise difference';
COMMENT ON OPERATOR *(vector, vector) IS 'element-wise product';
COMMENT ON OPERATOR ||(vector, vector) IS 'concatenation';
COMMENT ON OPERATOR <->(halfvec, halfvec) IS 'L2 distance';
COMMENT ON OPERATOR <#>(halfvec, halfvec) IS 'negative inner product';
COMMENT ON OPERATOR <=>(halfvec, halfvec) IS 'cosine distance';
COMMENT ON OPERATOR <+>(halfvec, halfvec) IS 'L1 distance';
COMMENT ON OPERATOR +(halfvec, halfvec) IS 'element-wise sum';
COMMENT ON OPERATOR -(halfvec, halfvec) IS 'element-wise difference';
COMMENT ON OPERATOR *(halfvec, halfvec) IS 'element-wise product';
COMMENT ON OPERATOR ||(halfvec, halfvec) IS 'concatenation';
COMMENT ON OPERATOR <~>(bit, bit) IS 'Hamming distance';
COMMENT ON OPERATOR <%>(bit, bit) IS 'Jaccard distance';

COMMENT ON ACCESS METHOD lance_ivf IS 'IVF vector index (LanceDB IVF_FLAT / IVF_SQ / IVF_PQ / IVF_RQ)';
COMMENT ON TYPE lancedb.sphere IS 'query vector with a distance range [lower, upper) for range search';
COMMENT ON FUNCTION lancedb.sphere(vector, double precision) IS 'range (-inf, upper) around a vector';
COMMENT ON FUNCTION lancedb.sphere(vector, double precision, double precision) IS 'range [lower, upper) around a vector';
COMMENT ON FUNCTION lancedb.index_stats(regclass) IS 'structure and size of a lancedb index, as jsonb';
COMMENT ON OPERATOR <<->>(vector, lancedb.sphere) IS 'L2 distance within the sphere''s range';
COMMENT ON OPERATOR <<#>>(vector, lancedb.sphere) IS 'negative inner product within the sphere''s range';
COMMENT ON OPERATOR <<=>>(vector, lancedb.sphere) IS 'cosine distance within the sphere''s range';

COMMENT ON AGGREGATE avg(vector) IS 'element-wise mean';
COMMENT ON AGGREGATE sum(vector) IS 'element-wise sum';
COMMENT ON AGGREGATE avg(halfvec) IS 'element-wise mean';
COMMENT ON AGGREGATE sum(halfvec) IS 'element-wise sum';
