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

Both fall back to the ORM whenever the shortcut could behave differently:

* a ``pre_save`` or ``post_save`` receiver is connected for the model (:func:`insert`;
  the receivers get their usual signals);
* the model overrides ``save()``/``save_base()``, has parents (multi-table inheritance)
  or ``order_with_respect_to``;
* a field needs more than a plain ``%s`` placeholder (``get_placeholder``,
  ``get_placeholder_sql``), has a database default or is generated;
* a value is an expression (``Now()``, ``F(...)``), the instance has a primary key
  already, or :func:`get_by` is asked for ``None`` or a field that is not unique;
* the database is neither SQLite nor PostgreSQL (the two this package is tested on).

Statements are kept per connection object (one per thread), so nothing built for one
thread's connection is used by another.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

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
    """Whether the statements here write and read ``model`` exactly as the ORM does."""
    meta = model._meta
    if connection.vendor not in VENDORS or meta.parents or meta.order_with_respect_to:
        return False
    if model.save is not Model.save or model.save_base is not Model.save_base:
        return False  # the model's own save() must run
    for field in meta.concrete_fields:
        if (
            hasattr(field, "get_placeholder")  # Django < 6.1
            or hasattr(field, "get_placeholder_sql")  # Django 6.1+
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
#: The statements built for each connection (each thread has its own connection objects;
#: a select's converters may refer to the connection they were made for).
_cache: WeakKeyDictionary[BaseDatabaseWrapper, dict[tuple[Any, ...], object]] = WeakKeyDictionary()


def _statements(connection: BaseDatabaseWrapper) -> dict[tuple[Any, ...], object]:
    statements = _cache.get(connection)
    if statements is None:
        statements = _cache[connection] = {}
    return statements


def _insert_statement(
    model: type[Model], connection: BaseDatabaseWrapper
) -> InsertStatement | None:
    statements = _statements(connection)
    statement = statements.get((model,))
    if statement is None:
        statement = statements[(model,)] = InsertStatement.build(model, connection) or _UNSUPPORTED
    return statement if isinstance(statement, InsertStatement) else None


def _select_statement(
    model: type[Model], connection: BaseDatabaseWrapper, field_name: str
) -> SelectStatement | None:
    statements = _statements(connection)
    key = (model, field_name)
    statement = statements.get(key)
    if statement is None:
        statement = SelectStatement.build(model, connection, field_name) or _UNSUPPORTED
        statements[key] = statement
    return statement if isinstance(statement, SelectStatement) else None


def insert(obj: Model, *, using: str | None = None) -> None:
    """Insert the new instance ``obj`` as ``obj.save(force_insert=True)`` would."""
    model = type(obj)
    alias = using or router.db_for_write(model, instance=obj)
    connection = connections[alias]
    statement = _insert_statement(model, connection)
    if (
        statement is None
        or obj.pk is not None
        or pre_save.has_listeners(model)
        or post_save.has_listeners(model)
    ):
        obj.save(force_insert=True, using=alias)
        return
    obj._prepare_related_fields_for_save(operation_name="save")  # type: ignore[attr-defined]  # as save() does
    values = [field.pre_save(obj, True) for field in statement.fields]
    if any(hasattr(value, "resolve_expression") for value in values):
        obj.save(force_insert=True, using=alias)  # e.g. a Now(): the ORM compiles it
        return
    params = [
        field.get_db_prep_save(value, connection)
        for field, value in zip(statement.fields, values, strict=True)
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
    """The instance whose unique field ``field_name`` equals ``value``, or None; read from
    the database that writes go to, as ``get_or_create`` reads. Anything the statement
    does not cover (a non-unique field, ``None``, an expression) is answered by
    ``model._base_manager.filter(...).first()``."""
    alias = router.db_for_write(model)
    connection = connections[alias]
    statement = _select_statement(model, connection, field_name)
    if statement is None or value is None or hasattr(value, "resolve_expression"):
        return model._base_manager.using(alias).filter(**{field_name: value}).first()
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
