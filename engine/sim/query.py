"""What a client sends, read the way Alpaca reads it: query strings, page tokens and JSON fields.

Apart from the endpoints so that every endpoint refuses a bad value with the same 400 or 422 body, and so
that paging (an opaque token a client must hand back unchanged) is one rule for every list endpoint.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from enum import StrEnum
from typing import Any, TypeVar
from urllib.parse import parse_qs

from engine.sim.params import NEW_YORK as ET

T = TypeVar("T")


class ApiError(Exception):
    """An error answer in Alpaca's form: HTTP status plus {"code", "message"}."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def bad(name: str, why: str) -> ApiError:
    """Alpaca's 400 for a parameter it cannot read."""
    return ApiError(400, 40010001, f"invalid {name}: {why}")


def unprocessable(message: str) -> ApiError:
    """Alpaca's 422 for a request it reads but will not carry out."""
    return ApiError(422, 42210000, message)


class Query:
    """Query parameters the way Alpaca reads them: comma lists, RFC 3339 or YYYY-MM-DD times."""

    def __init__(self, raw: str) -> None:
        self._q = parse_qs(raw, keep_blank_values=True)

    def get(self, name: str) -> str | None:
        """The last value given; an empty one counts as absent, as Alpaca counts it."""
        values = self._q.get(name)
        return values[-1] if values and values[-1] != "" else None

    def items(self, name: str) -> list[str]:
        """Every value, repeated parameters and comma lists alike."""
        out: list[str] = []
        for value in self._q.get(name, []):
            out.extend(v.strip() for v in value.split(",") if v.strip())
        return out

    def integer(self, name: str, default: int, lo: int, hi: int) -> int:
        text = self.get(name)
        if text is None:
            return default
        try:
            value = int(text)
        except ValueError:
            raise bad(name, f"not an integer: {text!r}") from None
        if not lo <= value <= hi:
            raise bad(name, f"must be between {lo} and {hi}, got {value}")
        return value

    def number(self, name: str) -> float | None:
        text = self.get(name)
        if text is None:
            return None
        try:
            value = float(text)
        except ValueError:
            raise bad(name, f"not a number: {text!r}") from None
        if not math.isfinite(value):
            raise bad(name, f"not a finite number: {text!r}")
        return value

    def day(self, name: str) -> date | None:
        text = self.get(name)
        if text is None:
            return None
        try:
            return date.fromisoformat(text[:10])
        except ValueError:
            raise bad(name, f"not a date (YYYY-MM-DD): {text!r}") from None

    def moment(self, name: str, *, end: bool = False) -> datetime | None:
        """RFC 3339 (naive means UTC, as alpaca-py means it) or a bare date: that New York day's start,
        or for an end the next day's start, so the whole day is included."""
        text = self.get(name)
        if text is None:
            return None
        try:
            if len(text) == 10:
                day = date.fromisoformat(text) + timedelta(days=1 if end else 0)
                return datetime.combine(day, dtime(0), tzinfo=ET)
            value = datetime.fromisoformat(text)
        except ValueError:
            raise bad(name, f"not an RFC 3339 time: {text!r}") from None
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)

    def choice(self, name: str, allowed: frozenset[str] | Sequence[str], default: str | None) -> str | None:
        value = self.get(name)
        if value is None:
            return default
        if value not in allowed:
            raise bad(name, f"{value!r} (allowed: {', '.join(sorted(allowed))})")
        return value

    def covers_expiry(self, day: date) -> bool:
        """Whether the expiration filters (exact, from, to) let contracts expiring on `day` through."""
        exact, gte, lte = self.day("expiration_date"), self.day("expiration_date_gte"), self.day("expiration_date_lte")
        return (exact is None or exact == day) and (gte is None or gte <= day) and (lte is None or day <= lte)

    def page(self, items: list[T], limit: int) -> tuple[list[T], str | None]:
        """The page `page_token` points at, and the token of the next one (None on the last page)."""
        offset = _decode_token(self.get("page_token"))
        end = offset + limit
        return items[offset:end], (_encode_token(end) if end < len(items) else None)


def _encode_token(offset: int) -> str:
    """An opaque page token (Alpaca's are base64 too); clients must pass it back unchanged."""
    return base64.urlsafe_b64encode(f"zdte-sim:{offset}".encode()).decode()


def _decode_token(token: str | None) -> int:
    if token is None:
        return 0
    try:
        prefix, _, offset = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        if prefix != "zdte-sim" or not offset.isdigit():
            raise ValueError(token)
        return int(offset)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise bad("page_token", "not a token this server issued") from None


# -- fields of a JSON body ------------------------------------------------------------------------------


def number(value: Any, name: str) -> float:
    """A JSON number or a numeric string (Alpaca's docs send strings, alpaca-py sends numbers)."""
    if isinstance(value, bool) or value is None:
        raise unprocessable(f"{name} is required and must be a number")
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise unprocessable(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(out):
        raise unprocessable(f"{name} must be finite, got {value!r}")
    return out


def whole(value: Any, name: str) -> int:
    """A quantity: options trade in whole contracts."""
    out = number(value, name)
    if out != int(out) or out < 1:
        raise unprocessable(f"{name} must be a whole number of at least 1 for options, got {value!r}")
    return int(out)


def enum(kind: type[StrEnum], value: Any, name: str) -> Any:
    """A member of `kind`, or None when the field is absent or empty (the caller infers it)."""
    if value in (None, ""):
        return None
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise unprocessable(f"invalid {name} {value!r} (allowed: {allowed})") from None
