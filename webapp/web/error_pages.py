"""The words of the error page (templates/errors/error.html): a title and a sentence for each
status a person can meet, used when the code that raised had nothing more precise to say."""

from __future__ import annotations

ERROR_PAGES: dict[int, tuple[str, str]] = {
    400: ("Something in that request was not right",
          "The address or the form could not be read. Go back, reload the page and try again."),
    403: ("You can't open this",
          "Your role does not allow it. Ask an owner or admin of your account if you need it."),
    404: ("Page not found", "The page may have been moved or deleted, or the address has a typo."),
    405: ("That action is not available here",
          "This address does not take that kind of request. Use the buttons and links on the page instead."),
    410: ("This is gone", "What this address pointed to was removed and will not come back."),
    413: ("That was too large", "What you sent is over the size limit. Try a smaller file or a shorter text."),
    429: ("Too many requests", "You made a lot of requests in a short time. Wait a minute, then try again."),
    500: ("Something went wrong",
          "Something went wrong on our side and nothing was saved. Try again in a moment."),
}


def error_page_text(status: int, message: str | None = None) -> tuple[str, str]:
    """(title, sentence) for an error page: the caller's message when it has one."""
    title, sentence = ERROR_PAGES.get(status) or ERROR_PAGES[500 if status >= 500 else 400]
    return title, message or sentence
