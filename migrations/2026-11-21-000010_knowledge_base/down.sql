DROP FUNCTION kb_queue_reembed(text);
DROP FUNCTION kb_due_orgs(integer, integer);
DROP TABLE kb_settings;
DROP TABLE kb_chunks;
DROP TABLE kb_documents;
