"""Shared domain code of the logging service, shipped to Lambda as the core layer."""

SERVICE_NAME = "logsService"
VERSION = "2.0.0"
