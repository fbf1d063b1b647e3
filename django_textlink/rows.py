"""Single-row statements for the webhook hot path, without the ORM's per-call compilation.

``Model.save()`` and ``QuerySet.get()`` build a query object and compile it to SQL on
every call; for the webhook views, which look up one row and insert two per request
under load, that compilation was most of their CPU time. The two functions here run
statements built once per model and database from the model's ``_meta``, and convert
values exactly as the ORM does:

* :func:`insert` writes a new instance like ``obj.save(force_insert=True)``: each value
  goes through ``field.pre_save(obj, add=True)`` (defaults, ``auto_now``) then
  ``field.get_db_prep_save()``, and the instance comes back saved (primary key set,
  ``_state.adding`` False, ``_state.db`` the database written to).
* :func:`get_by` reads the one row whose unique column has a value, like
  ``Model._base_manager.get(...)`` (None when there is none): each column goes through
  the backend's and the field's converters and the instance is built by ``from_db``.

Both fall back to the ORM whenever the shortcut could behave differently: a ``pre_save``
or ``post_save`` receiver is connected for the model (:func:`insert`; they get their
usual signals); the database is neither SQLite nor PostgreSQL (the two this package is
tested on); a field needs more than a plain ``%s`` placeholder (``get_placeholder``),
has a database default or is generated; the model has parents (multi-table inheritance)
or a primary key set on the client.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import connections, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import NOT_PROVIDED, Field, Model
from django.db.models.signals import post_save, pre_save

#: The databases whose SQL these statements are written for (standard ``RETURNING``).
VENDORS = frozenset({"sqlite", "postgresql"})

M = TypeVar("M", bound=Model)
Converter = Callable[[Any, Any, BaseDatabaseWrapper], Any]


def _column(field: Field[Any, Any]) -> str:
    assert field.column is not None  # a concrete field always has one
    return field.column


def _supported(model: type[Model], connection: BaseDatabaseWrapper) -> bool:
    meta = model._meta
    if connection.vendor not in VENDORS or meta.parents:
        return False
    for field in meta.concrete_fields:
        if (
            hasattr(field, "get_placeholder")
            or getattr(field, "generated", False)
            or getattr(field, "db_default", NOT_PROVIDED) is not NOT_PROVIDED
        ):
            return False
    pk = meta.pk
    return pk is not None and bool(getattr(pk, "db_returning", False))


@dataclass(frozen=True)
class InsertStatement:
    """``INSERT INTO table (every concrete column but the primary key) VALUES (...)``."""

    sql: str
    table: str
    pk_column: str
    fields: tuple[Field[Any, Any], ...]
    returning: bool  # True: the statement ends in RETURNING pk; else read lastrowid

    @classmethod
    def build(cls, model: type[Model], connection: BaseDatabaseWrapper) -> InsertStatement | None:
        if not _supported(model, connection):
            return None
        meta = model._meta
        pk = meta.pk
        assert pk is not None
        fields = tuple(field for field in meta.concrete_fields if field is not pk)
        quote = connection.ops.quote_name
        columns = ", ".join(quote(_column(field)) for field in fields)
        values = ", ".join(["%s"] * len(fields))
        # Identifiers from the model, quoted by the backend; every value is a parameter.
        sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({values})"  # noqa: S608
        returning = bool(connection.features.can_return_columns_from_insert)
        if returning:
            sql += f" RETURNING {quote(_column(pk))}"
        return cls(
            sql=sql, table=meta.db_table, pk_column=_column(pk), fields=fields, returning=returning
        )


@dataclass(frozen=True)
class SelectStatement:
    """``SELECT every concrete column FROM table WHERE unique_column = %s``."""

    sql: str
    where: Field[Any, Any]
    attnames: tuple[str, ...]
    converters: tuple[tuple[int, tuple[Converter, ...], Any], ...]  # (position, converters, col)

    @classmethod
    def build(
        cls, model: type[Model], connection: BaseDatabaseWrapper, field_name: str
    ) -> SelectStatement | None:
        meta = model._meta
        where = meta.get_field(field_name)
        if not _supported(model, connection) or not getattr(where, "unique", False):
            return None
        assert isinstance(where, Field)
        quote = connection.ops.quote_name
        fields = meta.concrete_fields
        columns = ", ".join(quote(_column(field)) for field in fields)
        table, column = quote(meta.db_table), quote(_column(where))
        sql = f"SELECT {columns} FROM {table} WHERE {column} = %s"  # noqa: S608
        converters = []
        for position, field in enumerate(fields):
            col = field.get_col(meta.db_table)
            found = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
            if found:
                converters.append((position, tuple(found), col))
        attnames = tuple(field.attname for field in fields)
        return cls(sql=sql, where=where, attnames=attnames, converters=tuple(converters))


_UNSUPPORTED = object()
_inserts: dict[tuple[type[Model], str], InsertStatement | object] = {}
_selects: dict[tuple[type[Model], str, str], SelectStatement | object] = {}


def _insert_statement(model: type[Model], alias: str) -> InsertStatement | None:
    key = (model, alias)
    statement = _inserts.get(key)
    if statement is None:
        statement = InsertStatement.build(model, connections[alias]) or _UNSUPPORTED
        _inserts[key] = statement
    return statement if isinstance(statement, InsertStatement) else None


def _select_statement(model: type[Model], alias: str, field_name: str) -> SelectStatement | None:
    key = (model, alias, field_name)
    statement = _selects.get(key)
    if statement is None:
        statement = SelectStatement.build(model, connections[alias], field_name) or _UNSUPPORTED
        _selects[key] = statement
    return statement if isinstance(statement, SelectStatement) else None


def insert(obj: Model, *, using: str | None = None) -> None:
    """Insert the new instance ``obj`` as ``obj.save(force_insert=True)`` would."""
    model = type(obj)
    alias = using or router.db_for_write(model, instance=obj)
    statement = _insert_statement(model, alias)
    if (
        statement is None
        or obj.pk is not None
        or pre_save.has_listeners(model)
        or post_save.has_listeners(model)
    ):
        obj.save(force_insert=True, using=alias)
        return
    obj._prepare_related_fields_for_save(operation_name="save")  # type: ignore[attr-defined]  # as save() does
    connection = connections[alias]
    params = [
        field.get_db_prep_save(field.pre_save(obj, True), connection) for field in statement.fields
    ]
    with transaction.mark_for_rollback_on_error(alias), connection.cursor() as cursor:
        cursor.execute(statement.sql, params)
        if statement.returning:
            row = cursor.fetchone()
            assert row is not None
            pk_value = row[0]
        else:
            pk_value = connection.ops.last_insert_id(cursor, statement.table, statement.pk_column)
    obj.pk = pk_value
    obj._state.adding = False
    obj._state.db = alias


def get_by(model: type[M], field_name: str, value: Any) -> M | None:
    """The instance whose unique field ``field_name`` equals ``value`` (read from the
    database writes go to, as ``get_or_create`` does), or None."""
    alias = router.db_for_write(model)
    statement = _select_statement(model, alias, field_name)
    if statement is None:
        return model._base_manager.using(alias).filter(**{field_name: value}).first()
    connection = connections[alias]
    prepared = statement.where.get_db_prep_value(value, connection)
    with connection.cursor() as cursor:
        cursor.execute(statement.sql, [prepared])
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row)
    for position, converters, col in statement.converters:
        for converter in converters:
            values[position] = converter(values[position], col, connection)
    return model.from_db(alias, statement.attnames, values)
