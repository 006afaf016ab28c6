-- The first result of every tool call with an effect (book, reschedule, cancel, transfer), by
-- Vapi's `toolCallId`: Vapi redelivers a tool call whose request timed out or failed (the
-- server's backoffPlan), and one call can reach both the webhook and the tool's own URL. A
-- repeated id gets the stored result instead of running again. `reply` is NULL while the first
-- delivery runs. Rows are kept at least 24 hours (pruned after 48 by the organization's next
-- claim).
CREATE TABLE vapi_tool_results (
    org_id       uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    tool_call_id text        NOT NULL CHECK (length(tool_call_id) BETWEEN 1 AND 200),
    tool_name    text        NOT NULL,
    reply        jsonb,
    claimed_at   timestamptz NOT NULL DEFAULT now(),
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, tool_call_id)
);
CREATE INDEX vapi_tool_results_age_idx ON vapi_tool_results (org_id, created_at);
ALTER TABLE vapi_tool_results ENABLE ROW LEVEL SECURITY;
ALTER TABLE vapi_tool_results FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON vapi_tool_results
    USING (org_id = current_org_id()) WITH CHECK (org_id = current_org_id());
GRANT SELECT, INSERT, UPDATE, DELETE ON vapi_tool_results TO platform_runtime;
