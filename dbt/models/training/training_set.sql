-- The risk model's training set: labelled claims with the features of models/features.py,
-- split by time (the latest claims are the holdout, never a random sample).
-- Labels come from the claims system's history and, once reviewers decide, from the
-- review queue's overrides.
with history as (

    select * from {{ source('raw', 'claims_history') }}

),

-- The latest decision per claim wins (a subquery, not QUALIFY: Postgres has no QUALIFY).
review_labels as (

    select * from (
        select
            *,
            row_number() over (partition by claim_number order by decided_at desc) as decision_rank
        from {{ source('raw', 'review_labels') }}
    ) as ranked
    where decision_rank = 1

),

policies as (

    select * from {{ ref('stg_policies') }}

),

features as (

    select * from {{ ref('claim_features') }}

),

labelled as (

    select
        history.claim_number,
        history.policy_number,
        history.incident_date,
        history.reported_date,
        policies.bonus_malus,
        policies.driver_age,
        policies.vehicle_age,
        policies.vehicle_power,
        policies.exposure,
        history.prior_claims,
        history.incident_date - policies.start_date as tenure_days,
        history.estimated_amount_eur,
        history.report_delay_days,
        history.photo_count,
        history.photo_quality,
        policies.area,
        policies.vehicle_brand,
        history.loss_type,
        cast(history.high_risk as integer) as high_risk,
        'history' as label_source
    from history
    inner join policies
        on policies.policy_number = history.policy_number

    union all

    -- A reviewer's decision on a live claim is a label too.
    select
        features.claim_number,
        features.policy_number,
        features.incident_date,
        cast(features.received_at as date) as reported_date,
        features.bonus_malus,
        features.driver_age,
        features.vehicle_age,
        features.vehicle_power,
        features.exposure,
        features.prior_claims,
        features.tenure_days,
        features.estimated_amount_eur,
        features.report_delay_days,
        features.photo_count,
        features.photo_quality,
        features.area,
        features.vehicle_brand,
        features.loss_type,
        cast(review_labels.high_risk as integer) as high_risk,
        'review' as label_source
    from review_labels
    inner join features
        on features.claim_number = review_labels.claim_number
    where features.policy_found and features.incident_date is not null

)

select
    *,
    case
        when percent_rank() over (order by incident_date, claim_number)
            >= 1 - {{ var('holdout_share', 0.2) }}
        then 'holdout'
        else 'train'
    end as split
from labelled
