-- One row per policy from the system-of-record extract, covered loss types as a list.
with source as (

    select * from {{ source('raw', 'policies') }}

)

select
    upper(trim(policy_number)) as policy_number,
    holder_name,
    holder_email,
    holder_phone,
    holder_address,
    lower(trim(status)) as status,
    start_date,
    end_date,
    lapsed_on,
    string_to_array(
        nullif(regexp_replace(lower(covered_loss_types), '\s', '', 'g'), ''), ','
    ) as covered_loss_types,
    area,
    bonus_malus,
    driver_age,
    vehicle_age,
    vehicle_brand,
    vehicle_power,
    past_claims,
    exposure
from source
