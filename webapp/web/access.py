"""What a signed-in marketer's role lets them do, checked by decorators on the views."""

from __future__ import annotations

import functools
from collections.abc import Callable

from flask import abort
from flask_login import current_user


def write_required(view: Callable) -> Callable:
    """Viewers may look but not change anything."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.can_write:
            abort(403, "Your role (viewer) can look at data but not change it.")
        return view(*args, **kwargs)

    return wrapper


def admin_required(view: Callable) -> Callable:
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_admin:
            abort(403, "Only owners and admins can change settings, API tokens and the team.")
        return view(*args, **kwargs)

    return wrapper
