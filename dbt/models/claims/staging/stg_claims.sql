-- One row per claim as extracted from e-mail: keys normalised, JSON unpacked into
-- the columns triage reads, report delay computed once here.
with source as (

    select * from {{ source('raw', 'parsed_claims') }}

)

select
    claim_number,
    cast(substring(claim_number, 5, 4) as integer) as claim_year,
    nullif(upper(trim(policy_number)), '') as policy_number,
    incident_date,
    nullif(lower(trim(loss_type)), '') as loss_type,
    estimated_amount,
    nullif(upper(trim(currency)), '') as currency,
    description,
    contact_email,
    contact_phone,
    cast(photos as json) as photos,
    photo_count,
    cast(confidence as json) as confidence,
    cast(cast(confidence as json) ->> 'policy_number' as double precision) as policy_number_confidence,
    cast(cast(confidence as json) ->> 'incident_date' as double precision) as incident_date_confidence,
    cast(cast(confidence as json) ->> 'loss_type' as double precision) as loss_type_confidence,
    cast(cast(confidence as json) ->> 'estimated_amount' as double precision) as estimated_amount_confidence,
    cast(provenance as json) as provenance,
    min_confidence,
    sender,
    source_content_hash,
    received_at,
    last_received_at,
    -- Days between the loss and the first e-mail about it; late reports are a fraud signal.
    cast(received_at as date) - incident_date as report_delay_days,
    message_count,
    follow_up_count,
    extractor_version
from source
