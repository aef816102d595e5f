-- A job continues the trace of the request that enqueued it: trace_context
-- keeps that request's propagation headers (W3C traceparent and tracestate,
-- Jaeger's uber-trace-id, baggage) as a JSON object. NULL for jobs enqueued
-- outside any trace and for rows older than this column: their runs start
-- a trace of their own. Portable SQL, as 0001.

-- +goose Up
ALTER TABLE media_jobs ADD COLUMN trace_context TEXT;

-- +goose Down
ALTER TABLE media_jobs DROP COLUMN trace_context;
