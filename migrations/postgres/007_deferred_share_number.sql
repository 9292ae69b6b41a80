-- A share takes its organization's next number at commit, not at insert. The number must follow commit
-- order with no gaps (an unfiltered organization page is a range of numbers), so taking it locks the
-- organization's row until commit; taken first, that lock was held for the whole create and every
-- concurrent create in the organization waited on it. Taken by this deferred trigger, it is held only
-- from the trigger to the commit. Rows inserted with a number (seed, state import) keep theirs. The column
-- is NULL only between a share's insert and the end of its transaction: the trigger fires for every such row.
ALTER TABLE shares ALTER COLUMN org_seq DROP NOT NULL;

CREATE FUNCTION shares_take_org_seq() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
BEGIN
  UPDATE organizations SET share_count = share_count + 1 WHERE id = NEW.organization_id
    RETURNING share_count INTO n;
  UPDATE shares SET org_seq = n WHERE id = NEW.id;
  RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER shares_org_seq AFTER INSERT ON shares
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.org_seq IS NULL)
  EXECUTE FUNCTION shares_take_org_seq();
