-- binary vectors on the built-in bit type
SELECT B'1010' <~> B'0110' AS hamming;               -- 2
SELECT hamming_distance(B'11111111', B'00000000');   -- 8
SELECT B'1010' <%> B'0110' AS jaccard;               -- 1 - 1/3
SELECT jaccard_distance(B'1100', B'1100');           -- 0
SELECT jaccard_distance(B'0000', B'0000');           -- 0 (two empty sets)
SELECT jaccard_distance(B'1000', B'0001');           -- 1
SELECT B'101' <~> B'1010';
SELECT B'101' <%> B'1010';
-- long bit strings cross the word-at-a-time path and its byte tail
SELECT binary_quantize(array_fill(1, ARRAY[1001])::vector)
       <~> binary_quantize(array_fill(-1, ARRAY[1001])::vector) AS all_differ;
SELECT binary_quantize(array_cat(array_fill(1, ARRAY[500]), array_fill(-1, ARRAY[501]))::vector)
       <%> binary_quantize(array_fill(1, ARRAY[1001])::vector) AS half_jaccard;
SELECT B'1' <~> B'1', B'1' <~> B'0';
CREATE TABLE codes (id int, c bit(8));
INSERT INTO codes VALUES (1, B'00000000'), (2, B'00000011'), (3, B'11111111'), (4, B'00001111');
SELECT id, c <~> B'00000001' AS d FROM codes ORDER BY c <~> B'00000001', id;
SELECT id, c <%> B'00000011' AS d FROM codes ORDER BY c <%> B'00000011', id;
DROP TABLE codes;
