-- Passage vectors (issue "Knowledge base that understands callers"): the unit vectors of a
-- chunk's passages (sentences, list items, table rows; `rag::chunk::passages`), concatenated as
-- little-endian f32, `embedding_dims` floats each, in passage order. A caller's question is scored
-- against the chunk and each of its passages. Empty until the chunk is re-indexed.
ALTER TABLE kb_chunks ADD COLUMN passage_embeddings bytea NOT NULL DEFAULT ''::bytea;

-- Re-index every indexed document in the background so that its chunks get passage vectors;
-- until then retrieval uses the chunk vectors alone.
UPDATE kb_documents SET status = 'pending', next_attempt_at = now(), attempts = 0, error = NULL
 WHERE status = 'ready' AND chunk_count > 0;
