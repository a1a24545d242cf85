"""Send Python logs to the logsService.

import logging
from logsvc_client import LogServiceHandler

logging.getLogger().addHandler(
    LogServiceHandler("https://logs.example.com", api_key="...", service_name="billing"))
logging.getLogger("billing").error("charge failed", extra={"order_id": "o-1"})
"""

from logsvc_client.client import LogServiceClient
from logsvc_client.handler import LogServiceHandler

# The original service's README calls its example client CloudflareLogger; code written
# against it keeps working with this import.
CloudflareLogger = LogServiceClient

__all__ = ["CloudflareLogger", "LogServiceClient", "LogServiceHandler"]
