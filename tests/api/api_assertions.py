"""Checks shared by the API tests (imported by module name: tests/api is on sys.path)."""

from __future__ import annotations


def assert_error(response, status: int, *, field: str | None = None, code: str | None = None,
                 case: object = None) -> dict:
    """The response is a JSON error {"error": {"code", "message", "details"}} with this status,
    and, when given, a detail naming `field`. `case` names the input in failure messages.
    Returns the error object."""
    assert response.status_code == status, (case, response.status_code, response.get_data(as_text=True)[:500])
    assert response.is_json, response.headers.get("Content-Type")
    body = response.get_json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "details"}, error
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], list)
    for detail in error["details"]:
        assert set(detail) >= {"field", "message"}, detail
    if code is not None:
        assert error["code"] == code, error
    if field is not None:
        fields = [d["field"] for d in error["details"]]
        assert field in fields, f"{case!r}: expected a detail naming {field!r}, got {fields}: {error['message']}"
    return error


def walk_pages(api, path: str, params: dict | None = None, limit: int = 2) -> list[list[dict]]:
    """Follow next_cursor from the first page to the last; returns the pages."""
    pages: list[list[dict]] = []
    cursor = None
    while True:
        query = {**(params or {}), "limit": limit}
        if cursor:
            query["cursor"] = cursor
        response = api.get(path, query_string=query)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        assert set(body) == {"data", "next_cursor"}
        assert len(body["data"]) <= limit
        pages.append(body["data"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 1000, "pagination does not end"
