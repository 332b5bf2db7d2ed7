"""Candle errors beyond servicekit's."""

from servicekit.errors import ServiceError


class PayloadTooLarge(ServiceError):
    status_code, code, message = 413, "PAYLOAD_TOO_LARGE", "Request body too large"


class UnsupportedMediaType(ServiceError):
    status_code, code, message = 415, "UNSUPPORTED_MEDIA_TYPE", "Unsupported content type"
