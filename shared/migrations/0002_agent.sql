-- The agent: knowledge-base sources (so that documents gone from a source are removed) and the
-- inbound message's sentiment is set by the agent's policy.
ALTER TABLE knowledge_chunks ADD COLUMN source text NOT NULL DEFAULT '';
ALTER TABLE knowledge_chunks ADD COLUMN embedded_with text;
CREATE INDEX knowledge_chunks_source_idx ON knowledge_chunks (source, document);
CREATE INDEX knowledge_chunks_unembedded_idx ON knowledge_chunks (id) WHERE embedding IS NULL;
CREATE INDEX escalations_conversation_idx ON escalations (conversation_id, created_at);
ALTER TABLE knowledge_chunks DROP CONSTRAINT knowledge_chunks_document_position_key;
ALTER TABLE knowledge_chunks ADD CONSTRAINT knowledge_chunks_source_document_position_key
    UNIQUE (source, document, position);
