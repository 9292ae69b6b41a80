-- Costs that follow the size of the answer, not of the store.

-- Shares are never removed and never change organization, so each one's place in its organization's
-- creation order is fixed: a page of the organization list at any depth is a range of this index, and
-- its total is the organization's counter. A create takes the next number under the organization row's
-- lock, so numbers follow commit order with no gaps.
ALTER TABLE organizations ADD COLUMN share_count bigint NOT NULL DEFAULT 0;
ALTER TABLE shares ADD COLUMN org_seq bigint;
UPDATE shares SET org_seq = r.seq
FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY organization_id ORDER BY created, id) AS seq FROM shares) AS r
WHERE shares.id = r.id;
UPDATE organizations o SET share_count = (SELECT COUNT(*) FROM shares s WHERE s.organization_id = o.id);
ALTER TABLE shares ALTER COLUMN org_seq SET NOT NULL;
CREATE UNIQUE INDEX shares_organization_seq ON shares (organization_id, org_seq);

-- Shares an account receives, read from the recipient side (covering: no table access to find them).
DROP INDEX share_recipients_account;
CREATE INDEX share_recipients_account ON share_recipients (account_id, status, share_id);

-- Superseded by shares_organization_seq.
DROP INDEX shares_organization;
