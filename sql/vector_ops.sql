-- vector operators and functions on hand-checked values
-- a = [1,2,3], b = [4,5,6]: diff = [-3,-3,-3]
SELECT '[1,2,3]'::vector <-> '[4,5,6]' AS l2;                 -- sqrt(27)
SELECT l2_distance('[1,2,3]'::vector, '[4,5,6]');
SELECT l2_squared_distance('[1,2,3]'::vector, '[4,5,6]');    -- 27
SELECT '[0,0]'::vector <-> '[3,4]' AS l2_345;                -- 5
SELECT '[1,2,3]'::vector <#> '[4,5,6]' AS neg_ip;            -- -32
SELECT inner_product('[1,2,3]'::vector, '[4,5,6]');          -- 32
SELECT '[1,0]'::vector <=> '[0,1]' AS cos_orth;              -- 1
SELECT '[1,1]'::vector <=> '[2,2]' AS cos_same;              -- 0
SELECT '[1,1]'::vector <=> '[-3,-3]' AS cos_opposite;        -- 2
SELECT cosine_distance('[3,4]'::vector, '[4,3]');            -- 1 - 24/25 = 0.04
SELECT '[0,0]'::vector <=> '[1,1]' AS cos_zero;              -- NaN, as pgvector
SELECT '[1,2,3]'::vector <+> '[4,5,6]' AS l1;                -- 9
SELECT l1_distance('[1,-2]'::vector, '[-1,2]');              -- 6
SELECT vector_dims('[1,2,3]'::vector);
SELECT vector_norm('[3,4]'::vector);                         -- 5
SELECT vector_norm('[2e38,3e38]'::vector);                   -- sqrt(13)e38 (no float overflow)
SELECT l2_normalize('[3,4]'::vector);
SELECT l2_normalize('[0,0]'::vector);
SELECT subvector('[1,2,3,4,5]'::vector, 2, 3);
SELECT subvector('[1,2,3,4,5]'::vector, 4, 10);
SELECT subvector('[1,2,3,4,5]'::vector, -1, 3);
SELECT subvector('[1,2,3,4,5]'::vector, 3, 0);
SELECT subvector('[1,2,3,4,5]'::vector, 6, 1);
SELECT subvector('[1,2,3,4,5]'::vector, 2147483647, 2147483647);
SELECT '[1,2,3]'::vector + '[4,5,6]';
SELECT '[1,2,3]'::vector - '[4,5,6]';
SELECT '[1,2,3]'::vector * '[4,5,6]';
SELECT '[1,2]'::vector || '[3]';
SELECT binary_quantize('[1,-1,0,0.5,-0.1,2,3,4,-5]'::vector);

-- symmetric operators commute
SELECT '[1,2]'::vector <-> '[3,5]' = '[3,5]'::vector <-> '[1,2]' AS l2_sym,
       '[1,2]'::vector <=> '[3,5]' = '[3,5]'::vector <=> '[1,2]' AS cos_sym;

-- mismatched dimensions (SQLSTATE 22000)
\set VERBOSITY sqlstate
SELECT '[1,2,3]'::vector <-> '[1,2,3,4]';
\set VERBOSITY default
SELECT '[1,2,3]'::vector <-> '[1,2,3,4]';
SELECT '[1,2,3]'::vector <#> '[1,2]';
SELECT '[1,2,3]'::vector <=> '[1,2]';
SELECT '[1,2,3]'::vector <+> '[1,2]';
SELECT l2_squared_distance('[1]'::vector, '[1,2]');
SELECT '[1,2,3]'::vector + '[1,2]';
SELECT '[1,2,3]'::vector - '[1,2]';
SELECT '[1,2,3]'::vector * '[1,2]';

-- results that overflow are errors
SELECT '[3e38]'::vector + '[3e38]';
SELECT '[-3e38]'::vector - '[3e38]';
SELECT '[1e20]'::vector * '[1e20]';
SELECT '[1e-30]'::vector * '[1e-30]';
SELECT '[3e38]'::vector <-> '[-3e38]';
SELECT '[3e38]'::vector <#> '[3e38]';
SELECT '[3e38]'::vector <+> '[-3e38]';
SELECT array_fill(1, ARRAY[10000])::vector || array_fill(1, ARRAY[6001])::vector;

-- ORDER BY distance LIMIT k over a table
CREATE TABLE items (id int PRIMARY KEY, v vector(3));
INSERT INTO items SELECT i, ARRAY[i % 7, i % 11, i % 13] FROM generate_series(1, 1000) i;
SELECT id, v, v <-> '[3,3,3]' AS d FROM items ORDER BY v <-> '[3,3,3]', id LIMIT 5;
SELECT id, v <#> '[1,1,1]' AS d FROM items ORDER BY v <#> '[1,1,1]', id LIMIT 3;
SELECT id, round((v <=> '[1,2,3]')::numeric, 6) AS d FROM items ORDER BY v <=> '[1,2,3]', id LIMIT 3;
SELECT id, v <+> '[6,10,12]' AS d FROM items ORDER BY v <+> '[6,10,12]', id LIMIT 3;
DROP TABLE items;
