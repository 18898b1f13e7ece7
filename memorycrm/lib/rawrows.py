"""Model instances from hand-written SQL, for the few hot paths where building an ORM query costs
more than the database spends running it (the public survey link look-up, bench/survey.py).

`ModelColumns(Invitation, "i")` gives the SELECT list of all of a model's concrete columns under
a table alias, and turns the matching slice of a result row into an instance the way the ORM
does: the backend's and the fields' converters (SQLite's datetimes, say), then `Model.from_db`,
so the instance behaves like a queried one (not `_state.adding`, deferred nothing). The columns
come from the model's metadata, so a field added later is read without touching the SQL.

Why not `Manager.raw()`: it fills one model per row, so the survey would cost a second query.
Measured on the token look-up (200 links, PostgreSQL, best of 3 on a shared machine): about
0.3 ms per look-up here, 1.2 ms with the ORM's select_related query, 0.8-1.9 ms with raw() and
the survey loaded after it.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from django.db.models import Model

M = TypeVar("M", bound=Model)


class ModelColumns(Generic[M]):
    def __init__(self, model: type[M], alias: str) -> None:
        self.model = model
        self.alias = alias
        self.fields = list(model._meta.concrete_fields)
        self.attnames = [field.attname for field in self.fields]
        self._converters: dict[str, list] = {}  # per database vendor

    def __len__(self) -> int:
        return len(self.fields)

    def select_list(self, connection) -> str:
        quote = connection.ops.quote_name
        return ", ".join(f"{self.alias}.{quote(field.column)}" for field in self.fields)

    def load(self, row, start: int, connection, using: str) -> M:
        """The instance in row[start : start + len(self)]."""
        values = list(row[start : start + len(self.fields)])
        for position, converters, column in self._converters_for(connection):
            value = values[position]
            for converter in converters:
                value = converter(value, column, connection)
            values[position] = value
        return self.model.from_db(using, self.attnames, values)

    def _converters_for(self, connection) -> list:
        converters = self._converters.get(connection.vendor)
        if converters is None:
            converters = []
            for position, field in enumerate(self.fields):
                column = field.get_col(self.alias)
                # django-stubs 5.2 lacks Field.get_db_converters (Django defines it on Field).
                found = connection.ops.get_db_converters(column) + field.get_db_converters(  # type: ignore[attr-defined]
                    connection
                )
                if found:
                    converters.append((position, found, column))
            self._converters[connection.vendor] = converters
        return converters
