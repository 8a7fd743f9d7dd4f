-- Text read from a message's attachments (issue 19): a PDF's text layer or OCR,
-- masked by triage like the body. What the agent sees folded under the mail and
-- the classifier reads after it. Rows go with their message's content
-- (retention, erasure).
-- Keep in step with migrations/sqlite/0019_attachment_texts.sql.
CREATE TABLE attachment_texts (
    message_id   BIGINT NOT NULL,
    position     BIGINT NOT NULL,
    filename     TEXT,
    content_type TEXT    NOT NULL,
    method       TEXT,
    pages        BIGINT NOT NULL,
    text         TEXT    NOT NULL,
    truncated    BIGINT NOT NULL,
    failure      TEXT,
    PRIMARY KEY (message_id, position)
);
