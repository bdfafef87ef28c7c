{#- Fails on every non-null value that does not match `pattern` (anchor it with ^...$). -#}
{% test matches_regex(model, column_name, pattern) %}
select {{ column_name }}
from {{ model }}
where {{ column_name }} is not null
  and not ({{ column_name }} ~ '{{ pattern }}')
{% endtest %}
