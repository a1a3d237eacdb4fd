-- every kernel path gives the same answers (within float tolerance) on
-- random vectors of odd and even lengths; the scalar path is the reference
SELECT lancedb.simd_path() IN ('scalar', 'avx2') AS known_path;
SET lancedb.simd = scalar;
SELECT lancedb.simd_path();
SET lancedb.simd = bogus;
SELECT setseed(0.42);
CREATE TEMP TABLE kv AS
SELECT n, i,
       (SELECT array_agg(random() * 2 - 1) FROM generate_series(1, n) WHERE i > 0)::vector AS a,
       (SELECT array_agg(random() * 2 - 1) FROM generate_series(1, n) WHERE i > 0)::vector AS b
  FROM (VALUES (1), (3), (7), (8), (9), (15), (16), (17), (31), (33), (100),
               (127), (128), (129), (255), (768), (1000), (1536), (4099)) d(n),
       generate_series(1, 5) i;
CREATE TEMP TABLE kref AS
SELECT n, i, a <-> b AS l2, a <#> b AS ip, a <=> b AS cos, a <+> b AS l1,
       a::halfvec <-> b::halfvec AS hl2, a::halfvec <#> b::halfvec AS hip,
       a::halfvec <=> b::halfvec AS hcos, a::halfvec <+> b::halfvec AS hl1,
       a::halfvec::text AS htext,
       binary_quantize(a) <~> binary_quantize(b) AS ham,
       binary_quantize(a) <%> binary_quantize(b) AS jac
  FROM kv;
RESET lancedb.simd;
-- the best path this CPU has (avx2 on x86-64 with AVX2/FMA/F16C)
SELECT count(*) AS pairs,
       count(*) FILTER (WHERE abs(r.l2 - (a <-> b)) <= 1e-5 * (1 + abs(r.l2))
                          AND abs(r.ip - (a <#> b)) <= 1e-5 * (1 + n)
                          AND abs(r.cos - (a <=> b)) <= 1e-5
                          AND abs(r.l1 - (a <+> b)) <= 1e-5 * (1 + r.l1)) AS f32_same,
       count(*) FILTER (WHERE abs(r.hl2 - (a::halfvec <-> b::halfvec)) <= 1e-5 * (1 + abs(r.hl2))
                          AND abs(r.hip - (a::halfvec <#> b::halfvec)) <= 1e-5 * (1 + n)
                          AND abs(r.hcos - (a::halfvec <=> b::halfvec)) <= 1e-5
                          AND abs(r.hl1 - (a::halfvec <+> b::halfvec)) <= 1e-5 * (1 + r.hl1)) AS f16_same,
       count(*) FILTER (WHERE r.htext = a::halfvec::text) AS f16_rounding_identical,
       count(*) FILTER (WHERE r.ham = (binary_quantize(a) <~> binary_quantize(b))
                          AND r.jac = (binary_quantize(a) <%> binary_quantize(b))) AS bits_identical
  FROM kv JOIN kref r USING (n, i);
