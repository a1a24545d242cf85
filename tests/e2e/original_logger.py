"""The Python integration example from the original service's README, unchanged."""

# ruff: noqa
import requests
from datetime import datetime


class CloudflareLogger:
    def __init__(self, service_name, api_url, api_key):
        self.service_name = service_name
        self.api_url = api_url
        self.session = requests.Session()
        self.session.headers.update(
            {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
        )

    def log(self, level, message, **metadata):
        payload = {
            "service_name": self.service_name,
            "level": level.upper(),
            "message": message,
            "metadata": metadata,
        }

        try:
            response = self.session.post(
                f"{self.api_url}/api/v1/logs/ingest", json=payload, timeout=5
            )
            response.raise_for_status()
        except Exception as e:
            print(f"[LOG ERROR] {e}: {message}")

    def info(self, message, **metadata):
        self.log("INFO", message, **metadata)

    def error(self, message, **metadata):
        self.log("ERROR", message, **metadata)
