"""The API's one error shape: {"error": {"code", "message", "details"}}."""

from __future__ import annotations

from flask import Blueprint, jsonify
from werkzeug.exceptions import HTTPException

from webapp.infra.errors import DomainError

# Codes for the HTTP errors Flask raises itself, so clients can branch on them.
HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    503: "busy",
}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details: list[dict] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []


def error_response(status: int, code: str, message: str, details: list[dict] | None = None):
    response = jsonify({"error": {"code": code, "message": message, "details": details or []}})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="crm"'
    if status == 503:
        response.headers["Retry-After"] = "1"
    return response


def http_error_response(exc: HTTPException):
    status = exc.code or 500
    response = error_response(status, HTTP_CODES.get(status, "error"), exc.description or exc.name)
    # The exception's own headers (Allow on a 405) go with the JSON body.
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def register_error_handlers(bp: Blueprint) -> None:
    @bp.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        response = error_response(exc.status, exc.code, exc.message, exc.details)
        if getattr(exc, "retry_after", None):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @bp.errorhandler(DomainError)
    def _domain_error(exc: DomainError):
        return error_response(exc.status, exc.code, exc.message, exc.details)

    @bp.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        return http_error_response(exc)
