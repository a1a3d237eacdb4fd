-- casts between vector and arrays
SELECT ARRAY[1,2,3]::vector;
SELECT ARRAY[1.5,2.5,-3]::real[]::vector;
SELECT ARRAY[1.5,2.5,-3]::double precision[]::vector;
SELECT ARRAY[1.5,2.5,-3]::numeric[]::vector;
SELECT ARRAY[1,2,3]::vector(3);
SELECT ARRAY[1,2]::vector(3);
SELECT '{1,2,3}'::real[]::vector;
SELECT '[1.5,2,-3]'::vector::real[];
SELECT '[1.5,2,-3]'::vector::double precision[];
SELECT '[1.4,2.5,-3.6]'::vector::integer[];        -- rounded as real::integer
SELECT '[1.5,0.1,-3]'::vector::numeric[];
SELECT '[3e9]'::vector::integer[];
-- assignment casts from arrays
CREATE TABLE vcast (v vector(2));
INSERT INTO vcast VALUES (ARRAY[1,2]), (ARRAY[3.5,4]::float8[]), ('{5,6}'::real[]);
SELECT * FROM vcast;
DROP TABLE vcast;
-- implicit cast to real[] lets array functions work
SELECT array_length('[1,2,3]'::vector::real[], 1);
-- bad arrays
SELECT '{}'::real[]::vector;
SELECT ARRAY[[1,2],[3,4]]::vector;
SELECT ARRAY[1,NULL,3]::vector;
SELECT ARRAY['NaN']::real[]::vector;
SELECT ARRAY['Infinity']::float8[]::vector;
SELECT ARRAY[1e39]::float8[]::vector;
SELECT ARRAY['NaN']::numeric[]::vector;
SELECT ARRAY[1e39]::numeric[]::vector;
SELECT array_fill(1, ARRAY[16001])::vector;
