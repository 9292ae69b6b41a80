-- Organization sync costs that follow what changed, not the organization's number of shares.

-- The organization-targeted shares whose recipients follow the members (a few among maybe millions).
CREATE INDEX shares_organization_targeted ON shares (organization_id)
  WHERE target_type = 'organization' AND status = 'active';

-- Accounts that left an organization since its last sync, written with the move: the sync disassociates
-- their recipients of the organization's account-targeted shares, found from the account side.
CREATE TABLE organization_departures (
  organization_id char(32) NOT NULL REFERENCES organizations (id),
  account_id char(32) NOT NULL REFERENCES accounts (id),
  PRIMARY KEY (organization_id, account_id)
);
-- Departures not synced yet when this migration runs (their organization work is still queued).
INSERT INTO organization_departures (organization_id, account_id)
SELECT DISTINCT s.organization_id, r.account_id
FROM share_recipients r JOIN shares s ON s.id = r.share_id JOIN accounts a ON a.id = r.account_id
WHERE s.target_type = 'account' AND s.status = 'active' AND r.desired_status = 'associated'
  AND a.organization_id IS DISTINCT FROM s.organization_id;
