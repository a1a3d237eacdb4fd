-- vector: text and binary forms, typmod, limits, bad input
SELECT '[1,2,3]'::vector;
SELECT '[-1.5, 2.25 , 3e-3]'::vector;
SELECT '  [ 1 , 2 ]  '::vector;
SELECT '[1.0000001,0.1,1e38,-1e-38]'::vector;
SELECT '[0x1p3]'::vector;
SELECT '[1,2,3]'::vector(3);
SELECT vector_dims(array_fill(1, ARRAY[16000])::vector);

-- malformed literals
SELECT '[1,2'::vector;
SELECT '[]'::vector;
SELECT '[ ]'::vector;
SELECT '[1,,2]'::vector;
SELECT '[1,2,]'::vector;
SELECT '1,2,3'::vector;
SELECT '[1,2,3] x'::vector;
SELECT '[1 2]'::vector;
SELECT '[a]'::vector;
SELECT ''::vector;
SELECT '['::vector;
SELECT '[NaN]'::vector;
SELECT '[1,Infinity]'::vector;
SELECT '[-inf]'::vector;
SELECT '[1e39]'::vector;
SELECT '[-1e39]'::vector;
SELECT vector_dims(array_fill(1, ARRAY[16001])::vector);
SELECT ('[' || repeat('1,', 16000) || '1]')::vector;

-- typmod
SELECT '[1,2]'::vector(3);
SELECT '[1,2,3]'::vector(0);
SELECT '[1,2,3]'::vector(16001);
SELECT '[1,2,3]'::vector(3, 2);
CREATE TABLE vio (v vector(3));
INSERT INTO vio VALUES ('[1,2,3]');
INSERT INTO vio VALUES ('[1,2]');
INSERT INTO vio VALUES ('[1,2,3,4]');
SELECT format_type(atttypid, atttypmod) FROM pg_attribute
 WHERE attrelid = 'vio'::regclass AND attname = 'v';
SELECT '[1,2,3]'::vector::vector(3), '[1,2,3]'::vector::vector(2);
DROP TABLE vio;

-- binary form is pgvector's: int16 dim, int16 unused, float4 x dim (network order)
SELECT vector_send('[1,2,3]');
SELECT vector_send('[-0.5]');
SELECT vector_send('[1,2,3]') = '\x000300003f8000004000000040400000'::bytea AS pgvector_bytes;

-- binary COPY round trip gives identical rows
CREATE TABLE vcopy (id int, v vector(4), h halfvec(4));
INSERT INTO vcopy
SELECT i, ARRAY[i, -i / 3.0, i * 1e-3, 1e20 / i]::vector,
       ARRAY[i, -i / 3.0, i * 1e-3, 1000.0 / i]::halfvec
  FROM generate_series(1, 500) i;
INSERT INTO vcopy VALUES (0, NULL, NULL);
SELECT current_setting('data_directory') || '/lancedb_regress_copy.bin' AS copyfile \gset
COPY vcopy TO :'copyfile' (FORMAT binary);
CREATE TABLE vcopy2 (LIKE vcopy);
COPY vcopy2 FROM :'copyfile' (FORMAT binary);
SELECT count(*) AS rows, count(*) FILTER (WHERE a.v IS NOT DISTINCT FROM b.v
        AND a.h IS NOT DISTINCT FROM b.h
        AND a.v::text IS NOT DISTINCT FROM b.v::text) AS identical
  FROM vcopy a JOIN vcopy2 b USING (id);
-- hostile binary values are refused: NaN, unused != 0, too many dimensions
CREATE TABLE vbad (v vector);
COPY vbad FROM PROGRAM
 'printf "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0\0\1\0\0\0\10\0\1\0\0\177\300\0\0\377\377"' (FORMAT binary);
COPY vbad FROM PROGRAM
 'printf "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0\0\1\0\0\0\10\0\1\0\1\77\200\0\0\377\377"' (FORMAT binary);
COPY vbad FROM PROGRAM
 'printf "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0\0\1\0\0\0\10\76\201\0\0\77\200\0\0\377\377"' (FORMAT binary);
-- a length that promises more floats than the message holds
COPY vbad FROM PROGRAM
 'printf "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0\0\1\0\0\0\10\0\3\0\0\77\200\0\0\377\377"' (FORMAT binary);
COPY vbad FROM PROGRAM
 'printf "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0\0\1\0\0\0\10\0\1\0\0\77\200\0\0\377\377"' (FORMAT binary);
SELECT * FROM vbad;
DROP TABLE vcopy, vcopy2, vbad;
