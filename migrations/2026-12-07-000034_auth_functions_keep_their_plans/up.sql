-- The two key look-ups that authenticate every API request (an app's key on the CTI routes, an
-- organization's key on the integration routes) keep their plans too (decision 49, migration
-- 000033): PL/pgSQL instead of `LANGUAGE sql`, the same queries (migrations 000002 and 000024).
CREATE OR REPLACE FUNCTION auth_app_by_key_hash(p_hash bytea)
    RETURNS TABLE (app_id uuid, org_id uuid, api_key_hash bytea)
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
        SELECT a.id, a.org_id, a.api_key_hash FROM apps a WHERE a.api_key_hash = p_hash AND a.is_active;
END $$;

CREATE OR REPLACE FUNCTION auth_org_key_by_hash(p_hash bytea, p_stale_secs double precision)
    RETURNS TABLE (id uuid, org_id uuid, scopes text[], key_hash bytea, stale boolean)
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
        SELECT k.id, k.org_id, k.scopes, k.key_hash,
               k.last_used_at IS NULL OR k.last_used_at < now() - make_interval(secs => p_stale_secs)
          FROM org_api_keys k
         WHERE k.key_hash = p_hash AND k.revoked_at IS NULL
           AND (k.expires_at IS NULL OR k.expires_at > now());
END $$;
