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

-- Every share an account sees in its list: the shares it sent, and those it receives while its
-- recipient is associating or associated. Keyed on the list's default order, with the columns the list
-- filters and sorts on (tags as one jsonb object), so a page reads a few hundred adjacent index entries
-- instead of visiting every share of the account. Triggers keep it in step with shares,
-- share_tags and share_recipients on every write path.
CREATE TABLE share_visibility (
  account_id char(32) NOT NULL,
  created timestamptz NOT NULL,
  share_id char(32) NOT NULL,
  kind text NOT NULL CHECK (kind IN ('sent', 'received')),
  name text NOT NULL,
  status text NOT NULL,
  target_type text NOT NULL,
  tags jsonb NOT NULL DEFAULT '{}',
  -- Covering: with every filter and sort column in the key's leaf entries, a page and its count are
  -- index-only scans of one account's adjacent entries, as SQLite's clustered table reads them.
  PRIMARY KEY (account_id, created, share_id) INCLUDE (kind, name, status, target_type, tags)
);
CREATE INDEX share_visibility_share ON share_visibility (share_id);

CREATE FUNCTION share_tags_json(sid char(32)) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT COALESCE(jsonb_object_agg(key, value), '{}') FROM share_tags WHERE share_id = sid
$$;

INSERT INTO share_visibility (account_id, created, share_id, kind, name, status, target_type, tags)
SELECT account_id, created, id, 'sent', name, status, target_type, share_tags_json(id) FROM shares;
INSERT INTO share_visibility (account_id, created, share_id, kind, name, status, target_type, tags)
SELECT r.account_id, s.created, s.id, 'received', s.name, s.status, s.target_type, share_tags_json(s.id)
FROM share_recipients r JOIN shares s ON s.id = r.share_id
WHERE r.status IN ('associating', 'associated');

CREATE FUNCTION share_visibility_on_share() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO share_visibility (account_id, created, share_id, kind, name, status, target_type)
    VALUES (NEW.account_id, NEW.created, NEW.id, 'sent', NEW.name, NEW.status, NEW.target_type);
  ELSIF TG_OP = 'UPDATE' THEN
    IF NEW.name IS DISTINCT FROM OLD.name OR NEW.status IS DISTINCT FROM OLD.status THEN
      UPDATE share_visibility SET name = NEW.name, status = NEW.status WHERE share_id = NEW.id;
    END IF;
  ELSE
    DELETE FROM share_visibility WHERE share_id = OLD.id;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER share_visibility_on_share AFTER INSERT OR UPDATE OR DELETE ON shares
  FOR EACH ROW EXECUTE FUNCTION share_visibility_on_share();

CREATE FUNCTION share_visibility_on_recipient() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  was boolean := TG_OP <> 'INSERT' AND OLD.status IN ('associating', 'associated');
  now_visible boolean := TG_OP <> 'DELETE' AND NEW.status IN ('associating', 'associated');
BEGIN
  IF was AND NOT now_visible THEN
    DELETE FROM share_visibility
    WHERE account_id = OLD.account_id AND share_id = OLD.share_id AND kind = 'received';
  ELSIF now_visible AND NOT was THEN
    INSERT INTO share_visibility (account_id, created, share_id, kind, name, status, target_type, tags)
    SELECT NEW.account_id, s.created, s.id, 'received', s.name, s.status, s.target_type, share_tags_json(s.id)
    FROM shares s WHERE s.id = NEW.share_id;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER share_visibility_on_recipient AFTER INSERT OR UPDATE OF status OR DELETE ON share_recipients
  FOR EACH ROW EXECUTE FUNCTION share_visibility_on_recipient();

CREATE FUNCTION share_visibility_on_tag() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  sid char(32) := CASE WHEN TG_OP = 'DELETE' THEN OLD.share_id ELSE NEW.share_id END;
BEGIN
  UPDATE share_visibility SET tags = share_tags_json(sid) WHERE share_id = sid;
  RETURN NULL;
END $$;
CREATE TRIGGER share_visibility_on_tag AFTER INSERT OR UPDATE OR DELETE ON share_tags
  FOR EACH ROW EXECUTE FUNCTION share_visibility_on_tag();
