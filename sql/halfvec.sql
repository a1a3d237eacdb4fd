-- halfvec: IEEE float16 storage with vector's surface
SELECT '[1,2,3]'::halfvec;
SELECT '[0.1,-2.5,65504,6e-8]'::halfvec;            -- rounded to half precision
SELECT '[1,2,3]'::halfvec(3);
SELECT '[1,2]'::halfvec(3);
SELECT '[65520]'::halfvec;                          -- rounds to inf: overflow
SELECT '[-1e5]'::halfvec;
SELECT '[NaN]'::halfvec;
SELECT '[1,2'::halfvec;
SELECT '[]'::halfvec;
SELECT '[1,2,3]'::halfvec(16001);
SELECT vector_dims(array_fill(1, ARRAY[16000])::halfvec);
SELECT vector_dims(array_fill(1, ARRAY[16001])::halfvec);

-- binary form: int16 dim, int16 unused, binary16 x dim (network order)
SELECT halfvec_send('[1,-2,0.5]');

-- casts to and from vector and arrays
SELECT '[1.5,2,3]'::vector::halfvec, '[1.5,2,3]'::halfvec::vector;
SELECT '[0.1]'::vector::halfvec::vector;             -- 0.1 in half precision
SELECT '[70000]'::vector::halfvec;
SELECT ARRAY[1,2,3]::halfvec, ARRAY[1.5,2.5]::real[]::halfvec,
       ARRAY[1.25]::float8[]::halfvec, ARRAY[2.5]::numeric[]::halfvec;
SELECT '[1,2]'::halfvec::real[];
SELECT '[1,2]'::vector::halfvec(3);

-- distances (hand-checked; same values as vector)
SELECT '[1,2,3]'::halfvec <-> '[4,5,6]' AS l2,
       '[1,2,3]'::halfvec <#> '[4,5,6]' AS neg_ip,
       '[3,4]'::halfvec <=> '[4,3]' AS cos,
       '[1,2,3]'::halfvec <+> '[4,5,6]' AS l1;
SELECT l2_distance('[0,0]'::halfvec, '[3,4]'), l2_squared_distance('[0,0]'::halfvec, '[3,4]'),
       inner_product('[1,2]'::halfvec, '[3,4]'), cosine_distance('[1,0]'::halfvec, '[0,1]'),
       l1_distance('[1,-2]'::halfvec, '[-1,2]');
SELECT '[0,0]'::halfvec <=> '[1,1]' AS cos_zero;
SELECT '[1,2,3]'::halfvec <-> '[1,2]';
SELECT vector_dims('[1,2,3]'::halfvec), vector_norm('[3,4]'::halfvec), l2_norm('[3,4]'::halfvec);
SELECT l2_normalize('[3,4]'::halfvec), l2_normalize('[0,0]'::halfvec);
SELECT subvector('[1,2,3,4,5]'::halfvec, 2, 3);
SELECT '[1,2,3]'::halfvec + '[4,5,6]', '[1,2,3]'::halfvec - '[4,5,6]',
       '[1,2,3]'::halfvec * '[4,5,6]', '[1,2]'::halfvec || '[3]';
SELECT '[60000]'::halfvec + '[60000]';
SELECT '[300]'::halfvec * '[300]';
SELECT '[0.0001]'::halfvec * '[0.0001]';              -- 1e-8 rounds to 0: underflow
SELECT binary_quantize('[1,-1,0,0.5]'::halfvec);

-- ordering, hashing, aggregates
SELECT '[1,2]'::halfvec < '[1,3]', '[1,2]'::halfvec = '[1,2]', '[1,2]'::halfvec > '[1]';
SELECT DISTINCT v FROM (VALUES ('[1,2]'::halfvec), ('[1,2]'), ('[0,1]')) t(v) ORDER BY v;
SELECT '[0,-0]'::halfvec = '[-0,0]' AS zeros_equal,
       halfvec_hash('[0,-0]') = halfvec_hash('[-0,0]') AS zeros_hash_alike;
SELECT avg(v), sum(v) FROM (VALUES ('[1,2]'::halfvec), ('[3,4]'), ('[5,9]')) t(v);
SELECT avg(v) FROM (VALUES ('[1,2]'::halfvec), ('[1,2,3]')) t(v);
SELECT sum(v) FROM (VALUES ('[60000]'::halfvec), ('[60000]')) t(v);
