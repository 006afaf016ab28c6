ALTER TABLE kb_chunks DROP COLUMN passage_embeddings;
