-- identity: link suggestions, verification details, the name key used for same-name suggestions, and
-- one unmerge per merge record (merges and unmerges are audit_log rows; see docs/identity.md).

ALTER TABLE customer_identifiers ADD COLUMN verified_channel text;
ALTER TABLE customer_identifiers ADD COLUMN verified_at timestamptz;

-- casefolded, accent-free full name ("ana ruiz"); NULL when the name is a single word.
ALTER TABLE customers ADD COLUMN name_key text;
CREATE INDEX customers_name_key_idx ON customers (name_key) WHERE name_key IS NOT NULL AND merged_into IS NULL;
CREATE INDEX customers_merged_into_idx ON customers (merged_into) WHERE merged_into IS NOT NULL;

-- Evidence that two customers (or a customer and an identifier nobody owns yet) may be one person.
-- Never merged automatically: a suggestion is confirmed by a later verified message or by staff.
CREATE TABLE link_suggestions (
    id                 bigserial PRIMARY KEY,
    -- the customer the evidence came from
    customer_id        uuid NOT NULL REFERENCES customers (id),
    -- the current owner of the identifier, or the other customer of a same-name suggestion
    other_customer_id  uuid REFERENCES customers (id),
    kind               text NOT NULL CHECK (kind IN ('mention', 'conflict', 'same_name')),
    identifier_kind    text CHECK (identifier_kind IN ('email', 'phone')),
    identifier_value   text,
    evidence           jsonb NOT NULL DEFAULT '{}'::jsonb,
    status             text NOT NULL DEFAULT 'suggested' CHECK (status IN ('suggested', 'confirmed', 'rejected')),
    decided_by         text,
    decision_reason    text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    decided_at         timestamptz,
    CHECK ((identifier_kind IS NULL) = (identifier_value IS NULL))
);
CREATE INDEX link_suggestions_customer_idx ON link_suggestions (customer_id, created_at);
CREATE INDEX link_suggestions_other_idx ON link_suggestions (other_customer_id, created_at)
    WHERE other_customer_id IS NOT NULL;
CREATE INDEX link_suggestions_identifier_idx ON link_suggestions (identifier_kind, identifier_value)
    WHERE identifier_value IS NOT NULL;

CREATE INDEX audit_log_action_idx ON audit_log (action, created_at);
-- A merge can be undone once.
CREATE UNIQUE INDEX audit_log_one_unmerge_idx ON audit_log ((details ->> 'merge_id'))
    WHERE action = 'customer.unmerge';
