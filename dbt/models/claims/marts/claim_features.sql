-- One row per claim: the claim joined with the policy it names, as the risk model
-- and the triage rules read it. Personal data stays in staging.
with claims as (

    select * from {{ ref('stg_claims') }}

),

policies as (

    select * from {{ ref('stg_policies') }}

),

fx as (

    select * from {{ ref('fx_rates') }}

),

photos as (

    select
        claim_number,
        avg(case when verdict <> 'unreadable' then score end) as photo_quality,
        count(*) filter (where verdict <> 'ok') as poor_photos,
        bool_or(reused_in <> '[]') as photo_reused
    from {{ source('raw', 'photo_quality') }}
    group by claim_number

),

history as (

    select claim_number, policy_number, incident_date from {{ source('raw', 'claims_history') }}

),

-- Every claim the insurer knows of: live ones from the inbox and closed ones from the
-- claims system, so prior claims count the same way as in the training data.
known_claims as (

    select claim_number, policy_number, incident_date from claims
    union all
    select claim_number, policy_number, incident_date from history

),

-- Other claims on the same policy whose loss happened strictly earlier, within the
-- {{ var('prior_claims_lookback_days', 1095) }}-day lookback; claims without an incident
-- date cannot be ordered and are not counted on either side.
earlier_claims as (

    select
        claim.claim_number,
        count(other.claim_number) as earlier_claim_count
    from claims as claim
    left join known_claims as other
        on other.policy_number = claim.policy_number
        and other.claim_number <> claim.claim_number
        and other.incident_date < claim.incident_date
        and other.incident_date >= claim.incident_date - {{ var('prior_claims_lookback_days', 1095) }}
    group by claim.claim_number

),

-- The claim-side inputs of the risk features, as the claims system records them for closed claims.
enriched as (

    select
        claims.*,
        policies.past_claims + earlier_claims.earlier_claim_count as prior_claims,
        -- Unknown currencies stay null rather than being mistaken for EUR.
        claims.estimated_amount * fx.eur_per_unit as estimated_amount_eur,
        -- Mean quality score of the claim's photos; null when it has none (as in training).
        photos.photo_quality,
        coalesce(photos.poor_photos, 0) as poor_photos,
        coalesce(photos.photo_reused, false) as photo_reused
    from claims
    left join policies
        on policies.policy_number = claims.policy_number
    left join earlier_claims
        on earlier_claims.claim_number = claims.claim_number
    left join fx
        on fx.currency = claims.currency
    left join photos
        on photos.claim_number = claims.claim_number

)

select
    claims.claim_number,
    claims.claim_year,
    claims.policy_number,
    policies.policy_number is not null as policy_found,
    -- First match wins: an unknown policy outranks an unknown date, and a lapse
    -- outranks expiry because the policy stopped at the lapse.
    case
        when policies.policy_number is null then 'unknown_policy'
        when claims.incident_date is null then 'unknown_date'
        when claims.incident_date < policies.start_date then 'not_started'
        when policies.lapsed_on <= claims.incident_date then 'lapsed'
        when claims.incident_date > policies.end_date then 'expired'
        else 'active'
    end as policy_status_at_incident,
    -- Not covered unless the policy lists the loss type: unknown policy or loss type is false.
    coalesce({{ list_contains('policies.covered_loss_types', 'claims.loss_type') }}, false) as loss_covered,
    claims.incident_date,
    claims.received_at,
    claims.estimated_amount,
    claims.currency,
    claims.poor_photos,
    claims.photo_reused,
    claims.min_confidence,
    -- The model's features: the same macro builds them for the training set.
    {{ risk_features('claims', 'policies') }}
from enriched as claims
left join policies
    on policies.policy_number = claims.policy_number
