{#- True when `value` is an element of the array `list_expr`; null when either is null.
    The only list operation the models need that DuckDB and Postgres spell differently. -#}
{% macro list_contains(list_expr, value) -%}
    {{ return(adapter.dispatch('list_contains', 'claimflow')(list_expr, value)) }}
{%- endmacro %}

{% macro default__list_contains(list_expr, value) -%}
    ({{ value }} = any({{ list_expr }}))
{%- endmacro %}

{% macro duckdb__list_contains(list_expr, value) -%}
    list_contains({{ list_expr }}, {{ value }})
{%- endmacro %}
