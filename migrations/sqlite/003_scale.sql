-- Costs that follow the size of the answer, not of the store.

-- Shares are never removed and never change organization, so each one's place in its organization's
-- creation order is fixed: a page of the organization list at any depth is a range of this index, and
-- its total is the organization's counter.
ALTER TABLE organizations ADD COLUMN share_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE shares ADD COLUMN org_seq INTEGER;
UPDATE shares SET org_seq = r.seq
FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY organization_id ORDER BY created, id) AS seq FROM shares) AS r
WHERE shares.id = r.id;
UPDATE organizations SET share_count = (SELECT COUNT(*) FROM shares WHERE organization_id = organizations.id);
CREATE UNIQUE INDEX shares_organization_seq ON shares (organization_id, org_seq);

-- Shares an account receives, read from the recipient side (covering: no table access to find them).
DROP INDEX share_recipients_account;
CREATE INDEX share_recipients_account ON share_recipients (account_id, status, share_id);

-- Superseded by shares_organization_seq.
DROP INDEX shares_organization;

-- Every share an account sees in its list: the shares it sent, and those it receives while its
-- recipient is associating or associated. Clustered on the list's default order, with the columns the
-- list filters and sorts on, so a page reads a few hundred adjacent rows instead of visiting every
-- share of the account. Triggers keep it in step with shares and share_recipients on every write path.
CREATE TABLE share_visibility (
  account_id TEXT NOT NULL,
  created TEXT NOT NULL,
  share_id TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('sent', 'received')),
  name TEXT NOT NULL,
  status TEXT NOT NULL,
  target_type TEXT NOT NULL,
  -- The share's tags as one JSON object, so a tag filter reads the row instead of probing share_tags.
  tags TEXT NOT NULL DEFAULT '{}',
  PRIMARY KEY (account_id, created, share_id)
) WITHOUT ROWID;
CREATE INDEX share_visibility_share ON share_visibility (share_id);

INSERT INTO share_visibility (account_id, created, share_id, kind, name, status, target_type, tags)
SELECT account_id, created, id, 'sent', name, status, target_type, (SELECT json_group_object(key, value) FROM share_tags WHERE share_id = shares.id) FROM shares;
INSERT INTO share_visibility (account_id, created, share_id, kind, name, status, target_type, tags)
SELECT r.account_id, s.created, s.id, 'received', s.name, s.status, s.target_type, (SELECT json_group_object(key, value) FROM share_tags WHERE share_id = s.id)
FROM share_recipients r JOIN shares s ON s.id = r.share_id
WHERE r.status IN ('associating', 'associated');

CREATE TRIGGER share_visibility_sent AFTER INSERT ON shares BEGIN
  INSERT INTO share_visibility (account_id, created, share_id, kind, name, status, target_type)
  VALUES (NEW.account_id, NEW.created, NEW.id, 'sent', NEW.name, NEW.status, NEW.target_type);
END;

CREATE TRIGGER share_visibility_share_changed AFTER UPDATE OF name, status ON shares BEGIN
  UPDATE share_visibility SET name = NEW.name, status = NEW.status WHERE share_id = NEW.id;
END;

CREATE TRIGGER share_visibility_share_removed AFTER DELETE ON shares BEGIN
  DELETE FROM share_visibility WHERE share_id = OLD.id;
END;

CREATE TRIGGER share_visibility_received AFTER INSERT ON share_recipients
WHEN NEW.status IN ('associating', 'associated') BEGIN
  INSERT INTO share_visibility (account_id, created, share_id, kind, name, status, target_type, tags)
  SELECT NEW.account_id, s.created, s.id, 'received', s.name, s.status, s.target_type, (SELECT json_group_object(key, value) FROM share_tags WHERE share_id = s.id)
  FROM shares s WHERE s.id = NEW.share_id;
END;

CREATE TRIGGER share_visibility_receiving AFTER UPDATE OF status ON share_recipients
WHEN NEW.status IN ('associating', 'associated') AND OLD.status NOT IN ('associating', 'associated') BEGIN
  INSERT INTO share_visibility (account_id, created, share_id, kind, name, status, target_type, tags)
  SELECT NEW.account_id, s.created, s.id, 'received', s.name, s.status, s.target_type, (SELECT json_group_object(key, value) FROM share_tags WHERE share_id = s.id)
  FROM shares s WHERE s.id = NEW.share_id;
END;

CREATE TRIGGER share_visibility_not_receiving AFTER UPDATE OF status ON share_recipients
WHEN NEW.status NOT IN ('associating', 'associated') AND OLD.status IN ('associating', 'associated') BEGIN
  DELETE FROM share_visibility
  WHERE account_id = OLD.account_id AND share_id = OLD.share_id AND kind = 'received';
END;

CREATE TRIGGER share_visibility_recipient_removed AFTER DELETE ON share_recipients
WHEN OLD.status IN ('associating', 'associated') BEGIN
  DELETE FROM share_visibility
  WHERE account_id = OLD.account_id AND share_id = OLD.share_id AND kind = 'received';
END;

CREATE TRIGGER share_visibility_tag_added AFTER INSERT ON share_tags BEGIN
  UPDATE share_visibility SET tags = (SELECT json_group_object(key, value) FROM share_tags WHERE share_id = NEW.share_id) WHERE share_id = NEW.share_id;
END;

CREATE TRIGGER share_visibility_tag_changed AFTER UPDATE ON share_tags BEGIN
  UPDATE share_visibility SET tags = (SELECT json_group_object(key, value) FROM share_tags WHERE share_id = NEW.share_id) WHERE share_id = NEW.share_id;
END;

CREATE TRIGGER share_visibility_tag_removed AFTER DELETE ON share_tags BEGIN
  UPDATE share_visibility SET tags = (SELECT json_group_object(key, value) FROM share_tags WHERE share_id = OLD.share_id) WHERE share_id = OLD.share_id;
END;
