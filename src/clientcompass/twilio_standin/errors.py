"""Twilio's error envelope, so clients (the official SDK included) parse stand-in errors
exactly as they parse Twilio's.

Twilio answers every REST error with the same JSON shape,
``{"code", "message", "more_info", "status"}``; the SDK turns it into
``TwilioRestException(status, code, msg)``. The codes used here are Twilio's documented
ones (https://www.twilio.com/docs/api/errors) so the app's error explanations can be
tested against the stand-in.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

# Codes with the wording Twilio documents for them. Kept in one place so message
# resources (error_message), callbacks (ChannelStatusMessage) and REST errors agree.
ERROR_MESSAGES: dict[int, str] = {
    20003: "Authenticate",
    20004: "Method not allowed",
    20001: "Invalid parameter",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    20500: "An internal server error has occurred",
    21211: "Invalid 'To' Phone Number",
    21603: "A 'From' phone number is required.",
    21604: "A 'To' phone number is required.",
    21617: "The concatenated message body exceeds the 1600 character limit.",
    21619: "A text message body or media url must be specified.",
    21620: "Invalid media URL(s)",
    21654: "ContentSid Required",
    21655: "The ContentSid is Invalid",
    21656: "The ContentVariables Parameter is invalid",
    21701: "The Messaging Service Sid is invalid",
    63007: "Twilio could not find a Channel with the specified From address",
    63016: (
        "Failed to send freeform message because you are outside the allowed window. "
        "If you are using WhatsApp, please use a Message Template."
    ),
    63019: "Media failed to download",
}


def more_info(code: int) -> str:
    """The documentation link Twilio puts in every error."""
    return f"https://www.twilio.com/docs/errors/{code}"


def error_message(code: int) -> str:
    """Twilio's wording for ``code``, or a neutral one for codes set by tests."""
    return ERROR_MESSAGES.get(code, f"Error {code}")


def error_body(status: int, code: int, message: str | None = None) -> dict[str, Any]:
    """The JSON body Twilio sends with a failed REST request."""
    return {
        "code": code,
        "message": message or error_message(code),
        "more_info": more_info(code),
        "status": status,
    }


class TwilioError(Exception):
    """Raised by route code to answer with Twilio's error envelope."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str | None = None,
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message or error_message(code)
        self.headers = headers or {}
        super().__init__(f"{status} {code}: {self.message}")

    def response(self) -> JSONResponse:
        return JSONResponse(
            error_body(self.status, self.code, self.message),
            status_code=self.status,
            headers=self.headers,
        )


def not_found(path: str) -> TwilioError:
    """Twilio's 404, which names the resource that was asked for."""
    return TwilioError(404, 20404, f"The requested resource {path} was not found")
