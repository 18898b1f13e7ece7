"""Page-number pagination whose cost does not grow with the table (the customers API).

DRF's PageNumberPagination counts every matching row for `count` (a million customers: a scan
of the whole table on every page) and reads a page with OFFSET. This one keeps its page
numbers, links and response shape, and adds `count_exact`:

* `count` is exact up to COUNT_LIMIT matching rows (counting stops there). Above it, the list
  without filters reports PostgreSQL's estimate of the table's rows (`pg_class.reltuples`, what
  its planner uses, kept by autovacuum and ANALYZE); a filtered list reports COUNT_LIMIT, a lower
  bound. Either way `count_exact` is false. On SQLite every count is exact.
* `next` is there when the page after exists (one row more is read to know), not when the count
  says so; a page number past the end is a 404, as before. `?page=last` counts exactly (it
  needs the real number of pages).
* The page's ids are found first and its rows read by id in the same query (a late row lookup):
  an index holding the filtered columns finds them without reading the table. A list may find
  them another way (`first`: the customers API's search, customers.selectors.first_matches),
  and count its rows another way (`counted`: the same search's capped count through the index
  of words, customers.selectors.capped_match_count); by default the count is the plain capped
  query: it needs no order, and PostgreSQL reads the first COUNT_LIMIT + 1 rows it finds.

The count is one query whatever the size, and so is the page.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any, cast

from django.core.paginator import EmptyPage, Page, PageNotAnInteger, Paginator
from django.db import connections
from django.db.models import QuerySet
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

COUNT_LIMIT = 1000

# (offset, count) -> the ids of the list's rows offset to offset + count, in its order (what
# `pk__in` takes: a queryset or an SQL expression).
First = Callable[[int, int], Any]
# limit -> the SQL and params of one number: the list's rows counted up to `limit` (a list
# that counts them another way than the plain capped query).
Counted = Callable[[int], tuple[str, Any]]


class CappedCountPaginator(Paginator):
    """A Django paginator whose `count` stops at `count_limit` (see the module docstring)."""

    def __init__(
        self,
        object_list: QuerySet,
        per_page: int,
        *,
        count_limit: int = COUNT_LIMIT,
        first: First | None = None,
        counted: Counted | None = None,
    ):
        super().__init__(object_list, per_page)
        self.queryset = object_list
        self.count_limit = count_limit
        self.first = first
        self.counted = counted
        self.count_exact = True
        self.pages_seen = 0  # the pages known to exist: the one read and, if any, the next

    @cached_property
    def count(self) -> int:
        queryset = self.queryset
        connection = connections[queryset.db]
        if connection.vendor != "postgresql":
            return queryset.count()
        if self.counted is not None:
            sql, params = self.counted(self.count_limit + 1)
        else:
            capped = queryset.order_by().values("pk")[: self.count_limit + 1]
            sql, params = capped.query.sql_with_params()
            sql = f"SELECT count(*) FROM ({sql}) capped"
        with connection.cursor() as cursor:
            # One statement: the capped count and the table's estimate beside it.
            cursor.execute(
                f"SELECT ({sql}), "
                "(SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s))",
                (*params, connection.ops.quote_name(queryset.model._meta.db_table)),
            )
            counted, estimate = cursor.fetchone()
        if counted <= self.count_limit:
            return counted
        self.count_exact = False
        unfiltered = not queryset.query.where
        return max(estimate or 0, counted) if unfiltered else self.count_limit

    def ids(self, offset: int, count: int) -> Any:
        """The ids of the rows offset to offset + count, in order (what `pk__in` takes)."""
        if self.first is not None:
            return self.first(offset, count)
        return self.queryset.values("pk")[offset : offset + count]

    @property
    def num_pages(self) -> int:
        # At least the pages known to exist (the browsable API's page links count on it).
        return max(super().num_pages, self.pages_seen)

    @cached_property
    def exact_count(self) -> int:
        return self.queryset.count()

    def page(self, number) -> Page:
        try:
            number = int(number)
        except (TypeError, ValueError):
            raise PageNotAnInteger(self.error_messages["invalid_page"]) from None
        if number < 1:
            raise EmptyPage(self.error_messages["min_page"])
        start = (number - 1) * self.per_page
        last = -(-self.count // self.per_page)  # counts first: that sets count_exact
        if (self.count_exact and number > max(1, last)) or start >= 2**62:
            # Past the end (an exact count says so, or no OFFSET the database takes).
            raise EmptyPage(self.error_messages["no_results"])
        rows = list(self.queryset.filter(pk__in=self.ids(start, self.per_page + 1)))
        if not rows and number > 1:
            raise EmptyPage(self.error_messages["no_results"])
        self.pages_seen = number + (len(rows) > self.per_page)
        return CappedCountPage(rows[: self.per_page], number, self, more=len(rows) > self.per_page)


class CappedCountPage(Page):
    def __init__(self, object_list, number: int, paginator: Paginator, *, more: bool) -> None:
        super().__init__(object_list, number, paginator)
        self.more = more

    def has_next(self) -> bool:
        return self.more

    def next_page_number(self) -> int:
        return self.number + 1

    def previous_page_number(self) -> int:
        return self.number - 1


class CappedCountPagination(PageNumberPagination):
    """PageNumberPagination with a bounded count and `count_exact` (see the module docstring)."""

    count_limit = COUNT_LIMIT
    first: First | None = None  # set per request by a list that finds its pages' ids itself
    counted: Counted | None = None  # and by one that counts its rows itself

    # DRF calls this as it would the class it names; a method passes this class's count_limit.
    def django_paginator_class(  # type: ignore[override]
        self, queryset: QuerySet, page_size: int
    ) -> CappedCountPaginator:
        return CappedCountPaginator(
            queryset,
            page_size,
            count_limit=self.count_limit,
            first=self.first,
            counted=self.counted,
        )

    def get_page_number(self, request, paginator: Paginator):
        page_number = request.query_params.get(self.page_query_param) or 1
        if page_number in self.last_page_strings:
            exact = cast(CappedCountPaginator, paginator).exact_count
            return max(1, -(-exact // paginator.per_page))
        return page_number

    def get_paginated_response(self, data) -> Response:
        assert self.page is not None  # set by paginate_queryset, which runs first
        paginator = cast(CappedCountPaginator, self.page.paginator)
        return Response(
            {
                "count": paginator.count,
                "count_exact": paginator.count_exact,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema: dict) -> dict:
        response = super().get_paginated_response_schema(schema)
        response["required"] = ["count", "count_exact", "results"]
        response["properties"]["count"]["description"] = (
            f"The number of results, exact up to {self.count_limit:,}. Above that, the list "
            "without filters gives PostgreSQL's estimate of the number of rows and a filtered "
            f"list gives {self.count_limit:,} (there are more); `count_exact` says which."
        )
        response["properties"] = {
            "count": response["properties"]["count"],
            "count_exact": {
                "type": "boolean",
                "description": "False when `count` is an estimate or a lower bound.",
            },
            **{k: v for k, v in response["properties"].items() if k != "count"},
        }
        return response
