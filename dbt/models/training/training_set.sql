-- The risk model's training set: labelled claims with the features of models/features.py
-- (macro risk_features, shared with claim_features), split by time: the latest claims are the
-- holdout, never a random sample, and one day's claims never straddle the cut.
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
        {{ risk_features('history', 'policies') }},
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
        {{ risk_feature_columns('features') }},
        cast(review_labels.high_risk as integer) as high_risk,
        'review' as label_source
    from review_labels
    inner join features
        on features.claim_number = review_labels.claim_number
    where features.policy_found and features.incident_date is not null

),

-- The holdout starts at the day of the claim ceil(n x share) from the end (in incident_date,
-- claim_number order); every claim of that day and later is holdout. models/risk.py::split_by_time
-- applies the same rule to frames outside the warehouse, and tests/integration/test_dbt_models.py
-- checks that the two agree.
ordered as (

    select
        incident_date,
        row_number() over (order by incident_date, claim_number) as position,
        count(*) over () as n
    from labelled

),

cutoff as (

    select min(incident_date) as first_holdout_day
    from ordered
    where position = n - cast(ceil(n * {{ var('holdout_share', 0.2) }}) as integer) + 1

)

select
    labelled.*,
    case when labelled.incident_date >= cutoff.first_holdout_day then 'holdout' else 'train' end as split
from labelled
cross join cutoff
