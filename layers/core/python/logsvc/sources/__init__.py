"""Push formats other than the native JSON API: each turns a request body into entry
candidates (dicts in LogInput's shape) and nothing else; the ingest pipeline does the rest.

- ``otlp``: OpenTelemetry ExportLogsServiceRequest (protobuf or JSON, gzip or not)
- ``cloudflare_tail``: Cloudflare Tail Worker TraceItems
"""
