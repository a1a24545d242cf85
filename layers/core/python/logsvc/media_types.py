"""The media types the API reads and writes."""

JSON = "application/json"
PROTOBUF = "application/x-protobuf"  # OTLP and Loki push only; other routes refuse it (415)
FORM = "application/x-www-form-urlencoded"  # what `curl -d` declares; read as JSON
TEXT = "text/plain"  # what fetch() declares for a string body; read as JSON
