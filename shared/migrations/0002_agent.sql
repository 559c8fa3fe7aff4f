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

-- Passages: the sentences, list items and table rows of each section, embedded one by one. A short
-- question matches the one line of a long section that answers it; the section is what is cited.
CREATE TABLE knowledge_passages (
    id             bigserial PRIMARY KEY,
    chunk_id       bigint NOT NULL REFERENCES knowledge_chunks (id) ON DELETE CASCADE,
    position       integer NOT NULL,
    content        text NOT NULL,
    embedding      vector(384),
    embedded_with  text,
    UNIQUE (chunk_id, position)
);
CREATE INDEX knowledge_passages_embedding_idx ON knowledge_passages USING hnsw (embedding vector_cosine_ops);
CREATE INDEX knowledge_passages_unembedded_idx ON knowledge_passages (id) WHERE embedding IS NULL;
