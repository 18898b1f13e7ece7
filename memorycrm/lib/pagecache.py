"""Loading what a template tag shows per item of a page in one query for the whole page.

A tag called once per timeline item (`{% moment_marker interaction %}`, `{% survey_invite … %}`)
would cost a query per item; instead the first call loads the values of every item of the page
(`context["page"].items`) and keeps them on a holder (the request, or the template context),
so a page costs a constant number of queries however many items it has.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

V = TypeVar("V")


def for_page_item(
    context: Any,
    pk: int,
    load: Callable[[list[int]], Mapping[int, V]],
    *,
    holder: object | None,
    key: str,
) -> V | None:
    """The value `load` gives for the item `pk` (None when it gives none), loaded together with
    every item of the page the first time one of them is asked for and kept on `holder`
    under the attribute `key` (not kept when `holder` is None)."""
    cache: dict[int, V | None] | None = getattr(holder, key, None)
    if cache is None or pk not in cache:
        ids = [pk, *(item_pk for item_pk in _page_ids(context) if item_pk != pk)]
        cache = {**(cache or {}), **dict.fromkeys(ids)}
        cache.update(load(ids))
        if holder is not None:
            setattr(holder, key, cache)
    return cache.get(pk)


def _page_ids(context: Any) -> Iterable[int]:
    page = context.get("page")
    for item in getattr(page, "items", None) or []:
        item_pk = getattr(item, "pk", None)
        if item_pk is not None:
            yield item_pk
