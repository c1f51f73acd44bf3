-- Merge the staged rows of one import (contact_import_staging) into contacts, their lists
-- and the history of changes; run in the import's transaction, then empty the staging.
-- See workbench.audience.contacts for the rules (upsert by email, then by id; empty values
-- keep the stored ones; an older state never overwrites a newer one).

-- 1. the contact each row speaks for: the one with its address, else the one with its id
--    (an address change), else a new one; `apply` is false for a state older than the stored
UPDATE contact_import_staging AS s
SET target_id = x.target_id
FROM (
    SELECT s.line_no,
           coalesce(e.contact_id, i.contact_id, s.contact_id, 'c' || substr(md5(s.email), 1, 16)) AS target_id
    FROM contact_import_staging s
    LEFT JOIN contacts e ON e.email = s.email
    LEFT JOIN contacts i ON i.contact_id = s.contact_id
) AS x
WHERE s.line_no = x.line_no;

DELETE FROM contact_import_staging AS s
USING contacts c
WHERE c.contact_id = s.target_id AND s.as_of < c.updated_at;

-- 2. the history of changed values of stored contacts
INSERT INTO contact_changes (contact_id, changed_at, field, old_value, new_value, source)
SELECT c.contact_id, s.as_of, f.field, f.old, f.new, s.source
FROM contact_import_staging s
JOIN contacts c ON c.contact_id = s.target_id,
LATERAL (SELECT unnest([
    {'field': 'email', 'old': c.email, 'new': s.email},
    {'field': 'first_name', 'old': c.first_name, 'new': s.first_name},
    {'field': 'last_name', 'old': c.last_name, 'new': s.last_name},
    {'field': 'age', 'old': CAST(c.age AS VARCHAR), 'new': CAST(s.age AS VARCHAR)},
    {'field': 'birth_date', 'old': CAST(c.birth_date AS VARCHAR), 'new': CAST(s.birth_date AS VARCHAR)},
    {'field': 'gender', 'old': c.gender, 'new': s.gender},
    {'field': 'country', 'old': c.country, 'new': s.country},
    {'field': 'region', 'old': c.region, 'new': s.region},
    {'field': 'city', 'old': c.city, 'new': s.city},
    {'field': 'postal_code', 'old': c.postal_code, 'new': s.postal_code},
    {'field': 'language', 'old': c.language, 'new': s.language},
    {'field': 'phone', 'old': c.phone, 'new': s.phone},
    {'field': 'signup_at', 'old': CAST(c.signup_at AS VARCHAR), 'new': CAST(s.signup_at AS VARCHAR)},
    {'field': 'signup_source', 'old': c.signup_source, 'new': s.signup_source}
], recursive := true)) AS f
WHERE f.new IS NOT NULL AND f.old IS DISTINCT FROM f.new;

INSERT INTO contact_changes (contact_id, changed_at, field, old_value, new_value, source)
SELECT c.contact_id, s.as_of, 'attributes.' || j.key, c.attributes ->> j.key, s.attributes ->> j.key, s.source
FROM contact_import_staging s
JOIN contacts c ON c.contact_id = s.target_id,
json_each(s.attributes) AS j
WHERE j.type <> 'NULL' AND (c.attributes ->> j.key) IS DISTINCT FROM (s.attributes ->> j.key);

-- 3. stored contacts take the new values; new ones are created
UPDATE contacts AS c
SET email = s.email,
    email_ascii = s.email_ascii,
    email_domain = s.email_domain,
    is_role = s.is_role,
    is_disposable = s.is_disposable,
    first_name = coalesce(s.first_name, c.first_name),
    last_name = coalesce(s.last_name, c.last_name),
    age = coalesce(s.age, c.age),
    birth_date = coalesce(s.birth_date, c.birth_date),
    gender = coalesce(s.gender, c.gender),
    country = coalesce(s.country, c.country),
    region = coalesce(s.region, c.region),
    city = coalesce(s.city, c.city),
    postal_code = coalesce(s.postal_code, c.postal_code),
    language = coalesce(s.language, c.language),
    phone = coalesce(s.phone, c.phone),
    signup_at = coalesce(s.signup_at, c.signup_at),
    signup_source = coalesce(s.signup_source, c.signup_source),
    attributes = CASE WHEN s.attributes IS NULL THEN c.attributes
                      WHEN c.attributes IS NULL THEN s.attributes
                      ELSE json_merge_patch(c.attributes, s.attributes) END,
    updated_at = s.as_of,
    source = s.source
FROM contact_import_staging s
WHERE c.contact_id = s.target_id;

INSERT INTO contacts
SELECT s.target_id, s.email, s.email_ascii, s.email_domain, coalesce(s.is_role, false), coalesce(s.is_disposable, false),
       s.first_name, s.last_name, s.age, s.birth_date, s.gender, s.country, s.region, s.city, s.postal_code,
       s.language, s.phone, s.signup_at, s.signup_source, s.attributes, s.as_of, s.as_of, s.source, s.source
FROM contact_import_staging s
WHERE s.target_id NOT IN (SELECT contact_id FROM contacts);

-- 4. lists: a lists column states the full set; missing lists become unsubscribed
INSERT INTO contact_changes (contact_id, changed_at, field, old_value, new_value, source)
SELECT d.contact_id, d.as_of, 'list:' || d.list_name, cs.status, d.status, d.source
FROM (
    SELECT s.target_id AS contact_id, s.as_of, s.source, l.list_name, 'subscribed' AS status
    FROM contact_import_staging s, unnest(s.lists) AS l(list_name)
    WHERE s.lists IS NOT NULL
    UNION ALL
    SELECT cs.contact_id, s.as_of, s.source, cs.list_name, 'unsubscribed'
    FROM contact_import_staging s JOIN contact_subscriptions cs ON cs.contact_id = s.target_id
    WHERE s.lists IS NOT NULL AND cs.status = 'subscribed' AND NOT list_contains(s.lists, cs.list_name)
) AS d
LEFT JOIN contact_subscriptions cs ON cs.contact_id = d.contact_id AND cs.list_name = d.list_name
WHERE cs.status IS DISTINCT FROM d.status
  AND (cs.status IS NOT NULL OR d.contact_id IN (SELECT contact_id FROM contacts WHERE created_at < d.as_of));

INSERT OR REPLACE INTO contact_subscriptions
SELECT s.target_id, l.list_name, 'subscribed',
       CASE WHEN cs.status = 'subscribed' THEN cs.consent_at ELSE coalesce(s.consent_at, s.signup_at, s.as_of) END,
       CASE WHEN cs.status = 'subscribed' THEN cs.consent_source ELSE s.signup_source END,
       CASE WHEN cs.status = 'subscribed' THEN cs.updated_at ELSE s.as_of END,
       CASE WHEN cs.status = 'subscribed' THEN cs.source ELSE s.source END
FROM contact_import_staging s
CROSS JOIN unnest(s.lists) AS l(list_name)
LEFT JOIN contact_subscriptions cs ON cs.contact_id = s.target_id AND cs.list_name = l.list_name
WHERE s.lists IS NOT NULL;

UPDATE contact_subscriptions AS cs
SET status = 'unsubscribed', updated_at = s.as_of, source = s.source
FROM contact_import_staging s
WHERE cs.contact_id = s.target_id AND s.lists IS NOT NULL AND cs.status = 'subscribed'
  AND NOT list_contains(s.lists, cs.list_name);

DELETE FROM contact_import_staging;
