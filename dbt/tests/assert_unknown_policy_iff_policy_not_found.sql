-- Triage reads policy_found and policy_status_at_incident separately; they must agree.
select claim_number
from {{ ref('claim_features') }}
where policy_found <> (policy_status_at_incident <> 'unknown_policy')
