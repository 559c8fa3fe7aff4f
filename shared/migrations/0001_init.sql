-- The mesh's schema. Plain SQL, applied in order by `fte migrate`, recorded in schema_migrations.
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE customers (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    display_name  text,
    merged_into   uuid REFERENCES customers (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE customer_identifiers (
    id                  bigserial PRIMARY KEY,
    customer_id         uuid NOT NULL REFERENCES customers (id),
    kind                text NOT NULL CHECK (kind IN ('email', 'phone')),
    value               text NOT NULL,
    verified            boolean NOT NULL DEFAULT false,
    first_seen_channel  text NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (kind, value)
);
CREATE INDEX customer_identifiers_customer_idx ON customer_identifiers (customer_id);

CREATE TABLE conversations (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id       uuid NOT NULL REFERENCES customers (id),
    status            text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'closed')),
    current_channel   text NOT NULL,
    channel_switches  jsonb NOT NULL DEFAULT '[]'::jsonb,
    started_at        timestamptz NOT NULL DEFAULT now(),
    last_activity_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX conversations_active_idx ON conversations (customer_id, last_activity_at DESC)
    WHERE status = 'active';

CREATE TABLE tickets (
    -- Unguessable (128 random bits, url-safe): whoever holds the id can read the conversation.
    id               text PRIMARY KEY,
    customer_id      uuid NOT NULL REFERENCES customers (id),
    conversation_id  uuid NOT NULL REFERENCES conversations (id),
    source_channel   text NOT NULL,
    subject          text,
    category         text,
    priority         text NOT NULL DEFAULT 'normal'
                     CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    status           text NOT NULL DEFAULT 'open'
                     CHECK (status IN ('open', 'processing', 'answered', 'escalated', 'resolved')),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tickets_conversation_idx ON tickets (conversation_id, created_at DESC);
CREATE INDEX tickets_customer_idx ON tickets (customer_id, created_at DESC);
CREATE INDEX tickets_status_idx ON tickets (status, updated_at);

CREATE TABLE messages (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    conversation_id      uuid NOT NULL REFERENCES conversations (id),
    ticket_id            text REFERENCES tickets (id),
    customer_id          uuid NOT NULL REFERENCES customers (id),
    channel              text NOT NULL CHECK (channel IN ('email', 'whatsapp', 'web')),
    direction            text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    role                 text NOT NULL CHECK (role IN ('customer', 'agent', 'staff', 'system')),
    subject              text,
    content              text NOT NULL,
    -- The deterministic event that produced this row: a replay finds it instead of adding another.
    event_id             text NOT NULL UNIQUE,
    provider_message_id  text,
    delivery_status      text,
    sentiment            real,
    tokens               integer,
    latency_ms           integer,
    grounding            jsonb,
    metadata             jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX messages_conversation_idx ON messages (conversation_id, created_at);
CREATE INDEX messages_ticket_idx ON messages (ticket_id, created_at);
CREATE INDEX messages_customer_idx ON messages (customer_id, created_at DESC);
CREATE UNIQUE INDEX messages_provider_idx ON messages (channel, provider_message_id)
    WHERE provider_message_id IS NOT NULL;

CREATE TABLE escalations (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    ticket_id        text NOT NULL REFERENCES tickets (id),
    conversation_id  uuid NOT NULL REFERENCES conversations (id),
    customer_id      uuid NOT NULL REFERENCES customers (id),
    reason_code      text NOT NULL,
    priority         text NOT NULL DEFAULT 'normal',
    context          jsonb NOT NULL DEFAULT '{}'::jsonb,
    status           text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'assigned', 'closed')),
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX escalations_open_idx ON escalations (status, created_at);
CREATE INDEX escalations_ticket_idx ON escalations (ticket_id);

CREATE TABLE knowledge_chunks (
    id            bigserial PRIMARY KEY,
    document      text NOT NULL,
    title         text NOT NULL,
    heading_path  text NOT NULL,
    position      integer NOT NULL,
    content       text NOT NULL,
    content_hash  text NOT NULL,
    tsv           tsvector GENERATED ALWAYS AS (
                      setweight(to_tsvector('english', heading_path), 'A')
                      || setweight(to_tsvector('english', content), 'B')) STORED,
    embedding     vector(384),
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (document, position)
);
CREATE INDEX knowledge_chunks_tsv_idx ON knowledge_chunks USING gin (tsv);
CREATE INDEX knowledge_chunks_embedding_idx ON knowledge_chunks USING hnsw (embedding vector_cosine_ops);
CREATE INDEX knowledge_chunks_hash_idx ON knowledge_chunks (content_hash);

-- Idempotent consumption: one row per (consumer, message id), written with the side effects.
CREATE TABLE processed_messages (
    consumer      text NOT NULL,
    msg_id        text NOT NULL,
    processed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, msg_id)
);

-- Events a handler derived, committed with its side effects and published after the commit.
CREATE TABLE pending_publications (
    id             bigserial PRIMARY KEY,
    consumer       text NOT NULL,
    source_msg_id  text NOT NULL,
    subject        text NOT NULL,
    msg_id         text NOT NULL,
    payload        bytea NOT NULL,
    headers        jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at     timestamptz NOT NULL DEFAULT now(),
    published_at   timestamptz
);
CREATE INDEX pending_publications_unpublished_idx ON pending_publications (consumer, source_msg_id)
    WHERE published_at IS NULL;

-- External sends: a row per outgoing message, 'sending' before the provider call, 'sent' after.
CREATE TABLE outbox (
    message_id           uuid PRIMARY KEY REFERENCES messages (id),
    channel              text NOT NULL,
    status               text NOT NULL CHECK (status IN ('sending', 'sent', 'failed')),
    provider_message_id  text,
    attempts             integer NOT NULL DEFAULT 0,
    last_error           text,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_status_idx ON outbox (status, updated_at);

CREATE TABLE channel_metrics (
    channel     text NOT NULL,
    metric      text NOT NULL,
    value       bigint NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel, metric)
);

CREATE TABLE audit_log (
    id            bigserial PRIMARY KEY,
    actor         text NOT NULL,
    action        text NOT NULL,
    subject_type  text NOT NULL,
    subject_id    text NOT NULL,
    details       jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_subject_idx ON audit_log (subject_type, subject_id, created_at);
