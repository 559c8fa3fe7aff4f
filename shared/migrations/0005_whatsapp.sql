-- WhatsApp replies go out as several provider messages (parts). One row per part, written before
-- the provider call and completed with the provider's id after it, so that a retried dispatch never
-- sends a part twice and each part's status callback maps back to its reply.
CREATE TABLE provider_message_parts (
    message_id           uuid NOT NULL REFERENCES messages (id),
    part_index           integer NOT NULL,
    channel              text NOT NULL,
    kind                 text NOT NULL CHECK (kind IN ('text', 'template')),
    -- pending: not sent; sending: a call is (or was) under way and its outcome is unknown; sent.
    send_state           text NOT NULL DEFAULT 'pending' CHECK (send_state IN ('pending', 'sending', 'sent')),
    provider_message_id  text,
    delivery_status      text NOT NULL DEFAULT 'queued',
    attempts             integer NOT NULL DEFAULT 0,
    sending_since        timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (message_id, part_index)
);
CREATE UNIQUE INDEX provider_message_parts_provider_idx ON provider_message_parts (channel, provider_message_id)
    WHERE provider_message_id IS NOT NULL;
-- The 24-hour customer-service window: the customer's last inbound message on a channel.
CREATE INDEX messages_customer_inbound_idx ON messages (customer_id, channel, created_at DESC)
    WHERE direction = 'inbound';
