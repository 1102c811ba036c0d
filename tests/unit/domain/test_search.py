"""Tests for the search filter and order_by parser: run search's fields and others'."""

from __future__ import annotations

import pytest

from griffin.domain.search import (
    MAX_CLAUSES,
    MAX_FILTER_LENGTH,
    MAX_IN_VALUES,
    Comparison,
    Entity,
    Fields,
    OrderBy,
    parse_filter,
    parse_order_by,
)
from griffin.errors import InvalidArgument


def _filter_error(text: str) -> str:
    with pytest.raises(InvalidArgument) as info:
        parse_filter(text)
    assert info.value.details == {"field": "filter"}
    return info.value.message


def _order_error(clauses: list[str]) -> str:
    with pytest.raises(InvalidArgument) as info:
        parse_order_by(clauses)
    assert info.value.details == {"field": "order_by"}
    return info.value.message


# --- valid filters ----------------------------------------------------------------------------


@pytest.mark.parametrize("text", [None, "", "   ", "\n\t"])
def test_blank_filter_means_no_filter(text: str | None) -> None:
    assert parse_filter(text) == ()


@pytest.mark.parametrize("op", ["=", "!=", "<", "<=", ">", ">="])
def test_metric_operators(op: str) -> None:
    assert parse_filter(f"metrics.acc {op} 0.5") == (Comparison("metric", "acc", op, 0.5),)


@pytest.mark.parametrize("op", ["=", "!=", "LIKE", "ILIKE"])
def test_string_operators(op: str) -> None:
    assert parse_filter(f"params.model {op} 'res%'") == (Comparison("param", "model", op, "res%"),)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tags.x like 'a'", Comparison("tag", "x", "LIKE", "a")),
        ("tags.x Like 'a'", Comparison("tag", "x", "LIKE", "a")),
        ("tags.x ilike 'a'", Comparison("tag", "x", "ILIKE", "a")),
        ("tags.x in ('a')", Comparison("tag", "x", "IN", ("a",))),
        ("tags.x not   in ('a')", Comparison("tag", "x", "NOT IN", ("a",))),
        ("tags.x Not In('a')", Comparison("tag", "x", "NOT IN", ("a",))),
    ],
)
def test_keyword_operators_are_case_insensitive(text: str, expected: Comparison) -> None:
    assert parse_filter(text) == (expected,)


def test_in_and_not_in_lists() -> None:
    assert parse_filter("attributes.run_id IN ('a1', \"b2\",'c3') AND tags.t NOT IN ('x')") == (
        Comparison("attribute", "id", "IN", ("a1", "b2", "c3")),
        Comparison("tag", "t", "NOT IN", ("x",)),
    )


@pytest.mark.parametrize(
    ("alias", "entity"),
    [
        ("params", "param"),
        ("param", "param"),
        ("tags", "tag"),
        ("tag", "tag"),
        ("PARAMS", "param"),
        ("Tags", "tag"),
    ],
)
def test_string_entity_aliases(alias: str, entity: Entity) -> None:
    assert parse_filter(f"{alias}.k = 'v'") == (Comparison(entity, "k", "=", "v"),)


@pytest.mark.parametrize("alias", ["metrics", "metric", "Metrics"])
def test_metric_entity_aliases(alias: str) -> None:
    assert parse_filter(f"{alias}.loss < 1") == (Comparison("metric", "loss", "<", 1.0),)


@pytest.mark.parametrize("alias", ["attributes", "attribute", "attr", "run", "ATTRIBUTES"])
def test_attribute_entity_aliases(alias: str) -> None:
    assert parse_filter(f"{alias}.run_name = 'x'") == (Comparison("attribute", "name", "=", "x"),)


@pytest.mark.parametrize(
    ("key", "normalised"),
    [
        ("run_name", "name"),
        ("name", "name"),
        ("run_id", "id"),
        ("id", "id"),
        ("user", "user"),
        ("user_id", "user"),
        ("experiment_id", "experiment_id"),
        ("RUN_NAME", "name"),
    ],
)
def test_string_attributes_are_normalised(key: str, normalised: str) -> None:
    assert parse_filter(f"attributes.{key} != 'v'") == (
        Comparison("attribute", normalised, "!=", "v"),
    )


@pytest.mark.parametrize(
    ("key", "normalised"),
    [
        ("start_time", "created_at"),
        ("created_at", "created_at"),
        ("end_time", "ended_at"),
        ("ended_at", "ended_at"),
    ],
)
def test_time_attributes_are_numeric(key: str, normalised: str) -> None:
    assert parse_filter(f"attributes.{key} >= 1700000000000") == (
        Comparison("attribute", normalised, ">=", 1700000000000.0),
    )


def test_status_is_upper_cased() -> None:
    assert parse_filter("attributes.status = 'running'") == (
        Comparison("attribute", "status", "=", "RUNNING"),
    )
    assert parse_filter("attributes.status IN ('Failed', 'KILLED')") == (
        Comparison("attribute", "status", "IN", ("FAILED", "KILLED")),
    )
    assert parse_filter("attributes.status LIKE 'fin%'") == (
        Comparison("attribute", "status", "LIKE", "FIN%"),
    )


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("'plain'", "plain"),
        ('"double"', "double"),
        ("'it''s'", "it's"),
        ("'it\\'s'", "it's"),
        ('"say ""hi"""', 'say "hi"'),
        ('"say \\"hi\\""', 'say "hi"'),
        ("'back\\\\slash'", "back\\slash"),
        ("'100\\%'", "100\\%"),
        ("''", ""),
        ("'has AND inside = 1'", "has AND inside = 1"),
        ("'ünïcode ✓'", "ünïcode ✓"),
    ],
)
def test_string_quoting_and_escapes(source: str, value: str) -> None:
    assert parse_filter(f"tags.t = {source}") == (Comparison("tag", "t", "=", value),)


@pytest.mark.parametrize(
    ("ident", "key"),
    [
        ("params.model.lr", "model.lr"),
        ("params.a-b/c:d", "a-b/c:d"),
        ("params.`my key`", "my key"),
        ('params."my key"', "my key"),
        ("params.`a``b`", "a`b"),
        ("params.`x = 'y'`", "x = 'y'"),
        ("params.0lr", "0lr"),
    ],
)
def test_keys(ident: str, key: str) -> None:
    assert parse_filter(f"{ident} = 'v'") == (Comparison("param", key, "=", "v"),)


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("3", 3.0),
        ("-3", -3.0),
        ("+2.5", 2.5),
        ("0.5", 0.5),
        (".5", 0.5),
        ("5.", 5.0),
        ("1e-3", 0.001),
        ("-1.5E+3", -1500.0),
        ("2e10", 2e10),
    ],
)
def test_numbers(source: str, value: float) -> None:
    assert parse_filter(f"metrics.m = {source}") == (Comparison("metric", "m", "=", value),)


def test_no_spaces_needed_around_symbol_operators() -> None:
    assert parse_filter("metrics.loss<-1 and params.p='x'") == (
        Comparison("metric", "loss", "<", -1.0),
        Comparison("param", "p", "=", "x"),
    )


@pytest.mark.parametrize("joiner", ["AND", "and", "And"])
def test_and_is_case_insensitive(joiner: str) -> None:
    assert parse_filter(f"metrics.a > 1 {joiner} metrics.b <= 2 {joiner} tags.c = 'x'") == (
        Comparison("metric", "a", ">", 1.0),
        Comparison("metric", "b", "<=", 2.0),
        Comparison("tag", "c", "=", "x"),
    )


def test_limits_at_the_edge_are_accepted() -> None:
    text = " AND ".join(f"metrics.m{i} > {i}" for i in range(MAX_CLAUSES))
    assert len(parse_filter(text)) == MAX_CLAUSES
    values = ", ".join(f"'{i}'" for i in range(MAX_IN_VALUES))
    (clause,) = parse_filter(f"params.p IN ({values})")
    assert isinstance(clause.value, tuple)
    assert len(clause.value) == MAX_IN_VALUES


# --- invalid filters --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("foo.bar = 'x'", ["position 0", "unknown entity 'foo'"]),
        ("status = 'x'", ["position 0", "'status'", "attributes.status"]),
        ("= 1", ["position 0", "found '='"]),
        ("metrics.acc foo 1", ["position 12", "operator after 'metrics.acc'", "found 'foo'"]),
        ("metrics.acc", ["position 11", "found end of input"]),
        ("params.a = 'oops", ["position 11", "unterminated string", "'oops"]),
        ("params.`oops = 'x'", ["position 7", "unterminated string", "missing the closing `"]),
        ("metrics.a > 1 garbage", ["position 14", "found 'garbage'"]),
        ("metrics.a > 1.2.3", ["position 12", "found '1.2.3'"]),
        ("metrics.a > 1 AND", ["position 17", "found end of input"]),
        ("metrics.a > 1 OR metrics.b > 2", ["position 14", "'OR' is not supported", "AND"]),
        ("metrics.a > 1 or metrics.b > 2", ["position 14", "'or' is not supported"]),
        ("metrics.acc = 'high'", ["position 14", "numbers", "\"'high'\""]),
        ("metrics.acc = '0.5'", ["position 14", "unquoted number", "\"'0.5'\""]),
        ("params.lr = 0.1", ["position 12", "found the number 0.1", "'0.1'"]),
        ("tags.t IN ('a', 2)", ["position 16", "number 2"]),
        ("attributes.start_time > 'yesterday'", ["position 24", "'yesterday'"]),
        ("metrics.acc LIKE 1", ["position 12", "'LIKE'", "=, !=, <, <=, >, >="]),
        ("metrics.acc IN (1)", ["position 12", "'IN'"]),
        ("params.p > 'a'", ["position 9", "'>'", "LIKE"]),
        ("attributes.colour = 'red'", ["position 11", "unknown attribute 'colour'", "run_name"]),
        ("attributes.status = 'DONE'", ["position 20", "'DONE'", "FINISHED"]),
        ("params.p IN 'a'", ["position 12", "expected '('", "found \"'a'\""]),
        ("params.p IN ()", ["position 13", "empty list"]),
        ("params.p IN ('a' 'b')", ["position 17", "expected ',' or ')'", "\"'b'\""]),
        ("params.p IN ('a',)", ["position 17", "found ')'"]),
        ("params.p = ", ["position 11", "found end of input"]),
        ("params. = 'x'", ["position 8", "expected a key after 'params.'"]),
        ("params.`` = 'x'", ["empty key"]),
        ("(metrics.a > 1)", ["position 0", "found '('"]),
        ("metrics.a == 1", ["position 11", "found '='"]),
        ("params.p NOT LIKE 'x'", ["position 9", "found 'NOT'"]),
    ],
)
def test_bad_filters(text: str, fragments: list[str]) -> None:
    message = _filter_error(text)
    assert message.startswith("invalid filter at position ")
    for fragment in fragments:
        assert fragment in message


def test_too_many_clauses() -> None:
    text = " AND ".join(f"metrics.m{i} > {i}" for i in range(MAX_CLAUSES + 1))
    assert f"at most {MAX_CLAUSES}" in _filter_error(text)


def test_too_many_in_values() -> None:
    values = ", ".join(f"'{i}'" for i in range(MAX_IN_VALUES + 1))
    assert f"at most {MAX_IN_VALUES}" in _filter_error(f"params.p IN ({values})")


def test_filter_too_long() -> None:
    text = "params.p = '" + "x" * MAX_FILTER_LENGTH + "'"
    assert str(MAX_FILTER_LENGTH) in _filter_error(text)


def test_long_tokens_are_truncated_in_messages() -> None:
    message = _filter_error("metrics.a > 1 " + "y" * 500)
    assert "y" * 40 + "..." in message
    assert "y" * 41 not in message


# --- other searches' fields (MLflow's registry, logged models, experiments) ---------------

_VERSIONS = Fields(
    attributes={"name": "name", "version_number": "version", "run_id": "run_id"},
    numeric=frozenset({"version"}),
    bare=True,
    quoted_numbers=True,
)
_MODELS = Fields(
    attributes={"name": "name", "status": "status"},
    choices={"status": ("READY", "FAILED")},
    entities=frozenset({"tag", "param"}),
)


def test_bare_attributes_and_prefixed_ones_are_the_same() -> None:
    expected = (
        Comparison("attribute", "name", "LIKE", "churn%"),
        Comparison("attribute", "version", ">=", 2.0),
        Comparison("tag", "mlflow.prompt.is_prompt", "!=", "true"),
    )
    bare = "name LIKE 'churn%' AND VERSION_NUMBER >= 2 AND tags.`mlflow.prompt.is_prompt` != 'true'"
    prefixed = "attributes.name LIKE 'churn%' AND attr.version_number >= 2 AND "
    prefixed += "tag.`mlflow.prompt.is_prompt` != 'true'"
    assert parse_filter(bare, fields=_VERSIONS) == expected
    assert parse_filter(prefixed, fields=_VERSIONS) == expected


def test_a_bare_word_is_an_attribute_only_where_fields_say_so() -> None:
    assert "did you mean 'attributes.name'?" in _filter_error("name = 'x'")
    with pytest.raises(InvalidArgument, match="position 0: unknown attribute 'colour'"):
        parse_filter("colour = 'x'", fields=_VERSIONS)


@pytest.mark.parametrize("value", ["'3'", '"3"', "3", "3.0"])
def test_quoted_numbers_where_fields_allow_them(value: str) -> None:
    expected = (Comparison("attribute", "version", "=", 3.0),)
    assert parse_filter(f"version_number = {value}", fields=_VERSIONS) == expected


def test_a_quoted_number_must_be_a_number() -> None:
    with pytest.raises(InvalidArgument, match=r"position 17: version_number holds numbers"):
        parse_filter("version_number = 'three'", fields=_VERSIONS)


def test_fields_limit_the_entities() -> None:
    with pytest.raises(InvalidArgument, match="'params' cannot be searched here; use tags or"):
        parse_filter("params.a = 'b'", fields=_VERSIONS)
    with pytest.raises(InvalidArgument, match="'metric' cannot be searched here; use params, tags"):
        parse_filter("metric.a > 1", fields=_MODELS)
    with pytest.raises(InvalidArgument, match="unknown entity 'x'; use params, tags or attributes"):
        parse_filter("x.a = 'b'", fields=_MODELS)
    assert parse_filter("params.a = 'b'", fields=_MODELS) == (Comparison("param", "a", "=", "b"),)


def test_choices_are_checked_and_upper_cased() -> None:
    assert parse_filter("attributes.status IN ('ready', 'Failed')", fields=_MODELS) == (
        Comparison("attribute", "status", "IN", ("READY", "FAILED")),
    )
    with pytest.raises(InvalidArgument, match="unknown status 'DONE'; valid values are: READY"):
        parse_filter("attributes.status = 'DONE'", fields=_MODELS)
    # Run statuses are not these fields' choices, nor are their attributes.
    with pytest.raises(InvalidArgument, match="unknown attribute 'run_id'"):
        parse_filter("attributes.run_id = 'x'", fields=_MODELS)


def test_the_run_grammar_stays_strict_about_quoted_numbers() -> None:
    assert "unquoted number" in _filter_error("attributes.start_time > '5'")


# --- order_by ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("clauses"), [None, []])
def test_empty_order_by(clauses: list[str] | None) -> None:
    assert parse_order_by(clauses) == ()


@pytest.mark.parametrize(
    ("clause", "expected"),
    [
        ("metrics.acc DESC", OrderBy("metric", "acc", True)),
        ("metrics.acc desc", OrderBy("metric", "acc", True)),
        ("params.lr", OrderBy("param", "lr", False)),
        ("tags.team ASC", OrderBy("tag", "team", False)),
        ("  params.model.lr   Asc  ", OrderBy("param", "model.lr", False)),
        ("params.`my key` DESC", OrderBy("param", "my key", True)),
        ('metrics."val loss"', OrderBy("metric", "val loss", False)),
        ("attributes.start_time ASC", OrderBy("attribute", "created_at", False)),
        ("attr.run_id", OrderBy("attribute", "id", False)),
        ("created_at", OrderBy("attribute", "created_at", False)),
        ("start_time DESC", OrderBy("attribute", "created_at", True)),
        ("end_time", OrderBy("attribute", "ended_at", False)),
        ("ended_at", OrderBy("attribute", "ended_at", False)),
        ("run_name", OrderBy("attribute", "name", False)),
        ("name DESC", OrderBy("attribute", "name", True)),
        ("STATUS", OrderBy("attribute", "status", False)),
    ],
)
def test_order_by_clauses(clause: str, expected: OrderBy) -> None:
    assert parse_order_by([clause]) == (expected,)


def test_order_by_keeps_clause_order() -> None:
    assert parse_order_by(("metrics.acc DESC", "start_time")) == (
        OrderBy("metric", "acc", True),
        OrderBy("attribute", "created_at", False),
    )


def test_order_by_lone_string_is_one_clause() -> None:
    assert parse_order_by("metrics.acc DESC") == (OrderBy("metric", "acc", True),)


@pytest.mark.parametrize(
    ("clauses", "fragments"),
    [
        (["metrics.acc DOWN"], ["order_by[0]", "position 12", "ASC or DESC", "found 'DOWN'"]),
        (["params.a", "metrics.acc DESC x"], ["order_by[1]", "position 17", "found 'x'"]),
        ([""], ["order_by[0]", "found end of input"]),
        (["foo.bar"], ["unknown entity 'foo'"]),
        (["user"], ["found 'user'", "attributes.user"]),
        (["attributes.colour"], ["position 11", "unknown attribute 'colour'"]),
        (["metrics.acc, params.b"], ["position 11", "found ','"]),
    ],
)
def test_bad_order_by(clauses: list[str], fragments: list[str]) -> None:
    message = _order_error(clauses)
    for fragment in fragments:
        assert fragment in message


def test_too_many_order_by_clauses() -> None:
    assert "limit of 10" in _order_error([f"metrics.m{i}" for i in range(11)])
