"""Keyset (cursor) pagination for HTML pages: the cost of page 50 is the cost of page 1.

A cursor is the sort key of the last row shown, signed so a user cannot forge one that makes
the query misbehave. Rows are ordered by one column and `id`, both in the same direction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from django.core import signing
from django.db.models import Q, QuerySet

_signer = signing.Signer(salt="memorycrm.keyset")
Rows = TypeVar("Rows", bound=QuerySet)


@dataclass
class Page:
    items: list[Any]
    next_cursor: str | None


def encode(value: Any, pk: int) -> str:
    if isinstance(value, datetime):
        value = {"dt": value.isoformat()}
    return _signer.sign_object([value, pk], compress=False)


def decode(cursor: str) -> tuple[Any, int] | None:
    """The (value, id) pair of a cursor, or None for a missing or tampered one."""
    if not cursor:
        return None
    try:
        value, pk = _signer.unsign_object(cursor)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if isinstance(value, dict) and "dt" in value:
        value = datetime.fromisoformat(value["dt"])
    return value, int(pk)


def paginate(
    queryset: Rows,
    *,
    field: str,
    descending: bool,
    cursor: str | None,
    size: int,
    rows: QuerySet | None = None,
    first: Callable[[Rows, int], Any] | None = None,
) -> Page:
    """One page of `queryset` ordered by (`field`, id) after `cursor`.

    The condition is written as `field <= v AND (field < v OR id < pk)` (for descending) so the
    database can seek on the (…, field, id) index with the first half and only filter ties.

    With `rows`, a late row lookup: `queryset` only finds the page's ids (an index-only scan
    when an index holds the columns it filters on, however many entries it passes), and the
    page is read from `rows` by id, in the same query (`rows` brings the joins).

    With `first` too, the page's ids are `first(queryset after the cursor, count)`: the ids of
    its first `count` rows in order, found another way than the plain ordered query (what
    `pk__in` takes: a queryset or an SQL expression; customers.selectors.first_matches).
    """
    key = decode(cursor or "")
    if key is not None:
        value, pk = key
        if descending:
            queryset = queryset.filter(Q(**{f"{field}__lte": value})).filter(
                Q(**{f"{field}__lt": value}) | Q(id__lt=pk)
            )
        else:
            queryset = queryset.filter(Q(**{f"{field}__gte": value})).filter(
                Q(**{f"{field}__gt": value}) | Q(id__gt=pk)
            )
    prefix = "-" if descending else ""
    order = (f"{prefix}{field}", f"{prefix}id")
    page: QuerySet = queryset.order_by(*order)[: size + 1]
    if rows is not None:
        ids = first(queryset, size + 1) if first else page.values("pk")
        page = rows.filter(pk__in=ids).order_by(*order)
    found = list(page)
    items, more = found[:size], len(found) > size
    next_cursor = encode(getattr(items[-1], field), items[-1].pk) if more else None
    return Page(items=items, next_cursor=next_cursor)
