import logging

import pytest
from logsvc_client import LogServiceClient
from logsvc_client.handler import level_name


@pytest.mark.parametrize(
    ("levelno", "name"),
    [
        (logging.DEBUG, "DEBUG"),
        (5, "DEBUG"),
        (logging.INFO, "INFO"),
        (25, "INFO"),
        (logging.WARNING, "WARN"),
        (logging.ERROR, "ERROR"),
        (logging.CRITICAL, "CRITICAL"),
        (60, "CRITICAL"),
    ],
)
def test_python_levels_map_to_the_services(levelno, name):
    assert level_name(levelno) == name


@pytest.mark.parametrize("url", ["file:///etc/passwd", "logs.example.com", "ftp://x"])
def test_only_http_urls(url):
    with pytest.raises(ValueError, match="http"):
        LogServiceClient("svc", url, "key")
