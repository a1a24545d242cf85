"""Local mode: the CLI and a server that runs the Lambda handlers on 127.0.0.1 (dev only)."""
