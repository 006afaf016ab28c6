-- Back to the LANGUAGE sql bodies of migrations 000002 and 000024.
CREATE OR REPLACE FUNCTION auth_app_by_key_hash(p_hash bytea)
    RETURNS TABLE (app_id uuid, org_id uuid, api_key_hash bytea)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$ SELECT a.id, a.org_id, a.api_key_hash FROM apps a WHERE a.api_key_hash = p_hash AND a.is_active $$;

CREATE OR REPLACE FUNCTION auth_org_key_by_hash(p_hash bytea, p_stale_secs double precision)
    RETURNS TABLE (id uuid, org_id uuid, scopes text[], key_hash bytea, stale boolean)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
        SELECT k.id, k.org_id, k.scopes, k.key_hash,
               k.last_used_at IS NULL OR k.last_used_at < now() - make_interval(secs => p_stale_secs)
          FROM org_api_keys k
         WHERE k.key_hash = p_hash AND k.revoked_at IS NULL
           AND (k.expires_at IS NULL OR k.expires_at > now())
    $$;
