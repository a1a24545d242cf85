from logsvc.problems import describe, field_name


def test_field_names_drop_the_request_part_and_index_lists():
    assert field_name(("body", "logs", 3, "level")) == "logs[3].level"
    assert field_name(("query", "limit")) == "limit"
    assert field_name(("body",)) == "body"
    assert field_name(()) == "body"


def test_invalid_json_is_reported_on_the_body():
    assert describe({"type": "json_invalid", "loc": ("body", 1), "msg": "JSON decode error"}) == (
        "body",
        "body: is not valid JSON",
    )


def test_unmapped_errors_keep_pydantic_text_without_its_prefix():
    field, message = describe(
        {"type": "value_error", "loc": ("query", "q"), "msg": "Value error, Too long"}
    )
    assert (field, message) == ("q", "q: too long")
