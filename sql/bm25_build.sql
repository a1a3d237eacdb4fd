-- lance_bm25 options and analysis: every WITH option and its default, the
-- analyzer as lancedb.tokenize shows it, option errors, index_stats
SET client_min_messages = warning;
CREATE SCHEMA bm25_build;
SET search_path = bm25_build, public;

-- defaults: simple tokenizer, english, stem, stop words, lower case, folding
SELECT lancedb.tokenize('The Happy PUPPIES are running to the Café, naïvely!');
-- each option
SELECT lancedb.tokenize('The Happy PUPPIES are running', '{"lower_case": false}'::jsonb);
SELECT lancedb.tokenize('The Happy PUPPIES are running', '{"stem": false}'::jsonb);
SELECT lancedb.tokenize('The Happy PUPPIES are running', '{"remove_stop_words": false}'::jsonb);
SELECT lancedb.tokenize('The Happy PUPPIES are running', '{"stop_words": "happi, run"}'::jsonb);
SELECT lancedb.tokenize('Crème brûlée à la café', '{"ascii_folding": false}'::jsonb);
SELECT lancedb.tokenize('Crème brûlée à la café', '{}'::jsonb);
SELECT lancedb.tokenize('short loooooooooooong', '{"max_token_length": 6}'::jsonb);
SELECT lancedb.tokenize('e-mail foo.bar  x', '{"base_tokenizer": "whitespace"}'::jsonb);
SELECT lancedb.tokenize('e-mail foo.bar  x', '{"base_tokenizer": "raw"}'::jsonb);
SELECT lancedb.tokenize('hello', '{"base_tokenizer": "ngram"}'::jsonb);
SELECT lancedb.tokenize('hello', '{"base_tokenizer": "ngram", "ngram_min_length": 2, "ngram_max_length": 4}'::jsonb);
SELECT lancedb.tokenize('hello', '{"base_tokenizer": "ngram", "ngram_min_length": 1, "ngram_max_length": 3, "prefix_only": true}'::jsonb);
SELECT lancedb.tokenize('Les chevaux couraient dans les forêts', '{"language": "french"}'::jsonb);
SELECT lancedb.tokenize('Die Häuser waren schöner', '{"language": "German"}'::jsonb);
SELECT lancedb.tokenize('бегущие собаки', '{"language": "russian"}'::jsonb);
SELECT lancedb.tokenize('running dogs', '{"language": "porter"}'::jsonb);
-- option errors
SELECT lancedb.tokenize('x', '{"language": "klingon"}'::jsonb);
SELECT lancedb.tokenize('x', '{"base_tokenizer": "icu"}'::jsonb);
SELECT lancedb.tokenize('x', '{"colour": "red"}'::jsonb);
SELECT lancedb.tokenize('x', '{"base_tokenizer": "ngram", "ngram_min_length": 4, "ngram_max_length": 2}'::jsonb);

CREATE TABLE t (id int, body text);
INSERT INTO t VALUES (1, 'Running puppies in the park'), (2, 'A happy cat');
CREATE INDEX t_bad ON t USING lance_bm25 (body) WITH (language = 'klingon');
CREATE INDEX t_bad ON t USING lance_bm25 (body) WITH (base_tokenizer = 'icu');
CREATE INDEX t_bad ON t USING lance_bm25 (body) WITH (base_tokenizer = 'ngram', with_position = true);
CREATE INDEX t_bad ON t USING lance_bm25 (body) WITH (ngram_min_length = 0);
CREATE INDEX t_bad ON t USING lance_bm25 (body) WITH (nosuch = 1);
-- every option on an index; tokenize(text, index) uses the stored options
CREATE INDEX t_all ON t USING lance_bm25 (body) WITH (
  base_tokenizer = 'whitespace', language = 'english', with_position = true,
  max_token_length = 10, lower_case = true, stem = false,
  remove_stop_words = true, stop_words = 'in, a', ascii_folding = false);
SELECT lancedb.tokenize('Running Puppies in the park', 't_all'::regclass);
SELECT lancedb.index_stats('t_all') -> 'options' AS options;
CREATE INDEX t_ngram ON t USING lance_bm25 (body) WITH (base_tokenizer = 'ngram', ngram_min_length = 2, ngram_max_length = 3, prefix_only = true);
SELECT lancedb.tokenize('Park', 't_ngram'::regclass);
SET enable_seqscan = off;
SELECT id FROM t ORDER BY body <&> 'Runner' LIMIT 5;
CREATE INDEX t_def ON t USING lance_bm25 (body);
SELECT lancedb.index_stats('t_def') - 'options' - 'bytes' - 'pages' - 'segments' - 'health' - 'maintenance' AS stats;
SELECT jsonb_array_length(lancedb.index_stats('t_def') -> 'segments') AS segments;
SELECT lancedb.tokenize('Running Puppies', 't'::regclass);
-- a table is not an index
-- an empty table, then the first rows arrive through inserts
CREATE TABLE e (body text);
CREATE INDEX e_idx ON e USING lance_bm25 (body);
SELECT * FROM e ORDER BY body <&> 'x' LIMIT 1;
INSERT INTO e VALUES ('red fox'), ('blue fox'), (NULL);
SELECT body FROM e ORDER BY body <&> 'red fox' LIMIT 5;
SELECT lancedb.index_stats('e_idx') ->> 'delta_docs' AS delta_docs;
-- unlogged tables get an init fork
CREATE UNLOGGED TABLE u (body text);
INSERT INTO u VALUES ('alpha beta');
CREATE INDEX u_idx ON u USING lance_bm25 (body);
SELECT body FROM u ORDER BY body <&> 'beta' LIMIT 1;
RESET search_path;
DROP SCHEMA bm25_build CASCADE;
