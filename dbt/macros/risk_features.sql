{#- The risk model's features (models/features.py::FEATURES, same order), defined once for training
    (training_set: closed claims x policies) and serving (claim_features: live claims x policies).
    `claim` is a relation with incident_date, prior_claims, estimated_amount_eur, report_delay_days,
    photo_count, photo_quality and loss_type; `policy` a stg_policies row. -#}
{% macro risk_feature_spec() -%}
    {{ return([
        ('bonus_malus', '{policy}.bonus_malus'),
        ('driver_age', '{policy}.driver_age'),
        ('vehicle_age', '{policy}.vehicle_age'),
        ('vehicle_power', '{policy}.vehicle_power'),
        ('exposure', '{policy}.exposure'),
        ('prior_claims', '{claim}.prior_claims'),
        ('tenure_days', '{claim}.incident_date - {policy}.start_date'),
        ('estimated_amount_eur', '{claim}.estimated_amount_eur'),
        ('report_delay_days', '{claim}.report_delay_days'),
        ('photo_count', '{claim}.photo_count'),
        ('photo_quality', '{claim}.photo_quality'),
        ('area', '{policy}.area'),
        ('vehicle_brand', '{policy}.vehicle_brand'),
        ('loss_type', '{claim}.loss_type'),
    ]) }}
{%- endmacro %}

{#- The features computed from a claim and its policy. -#}
{% macro risk_features(claim, policy) -%}
    {%- for name, expr in risk_feature_spec() %}
    {{ expr.replace('{claim}', claim).replace('{policy}', policy) }} as {{ name }}{{ ',' if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{#- The same features, already computed, read off `relation` in the same order (for unions). -#}
{% macro risk_feature_columns(relation) -%}
    {%- for name, _ in risk_feature_spec() %}
    {{ relation }}.{{ name }}{{ ',' if not loop.last }}
    {%- endfor %}
{%- endmacro %}
