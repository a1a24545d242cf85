import pytest

from logsvc.api.auth import check_bearer
from logsvc.errors import ServiceUnavailable, Unauthorized


def test_the_right_key_passes():
    check_bearer("Bearer s3cret", "s3cret")
    check_bearer("bearer   s3cret ", "s3cret")


@pytest.mark.parametrize(
    "header", [None, "", "s3cret", "Basic s3cret", "Bearer s3cre", "Bearer s3cret2", "Bearer"]
)
def test_anything_else_is_401_naming_the_header(header):
    with pytest.raises(Unauthorized) as caught:
        check_bearer(header, "s3cret")
    assert caught.value.field == "Authorization"
    assert caught.value.headers == {"WWW-Authenticate": "Bearer"}


def test_no_configured_key_fails_closed():
    with pytest.raises(ServiceUnavailable):
        check_bearer("Bearer ", None)
