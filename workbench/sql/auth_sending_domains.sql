-- Every sending domain with its DKIM selectors, return-path and the IPs of its pool
-- (with the host name the MTA says HELO with), and the pool's kind (shared: an ESP's).
SELECT d.domain,
       d.parent_domain,
       d.purpose,
       d.ip_pool,
       coalesce(p.kind, 'none') AS pool_kind,
       coalesce(d.dkim_selectors, []::VARCHAR[]) AS selectors,
       d.return_path_domain,
       coalesce(list(struct_pack(ip := i.ip, hostname := coalesce(i.hostname, '')) ORDER BY i.ip)
                FILTER (WHERE i.ip IS NOT NULL), []) AS ips
FROM sending_domains d
LEFT JOIN ip_pools p ON p.pool = d.ip_pool
LEFT JOIN ips i ON i.pool = d.ip_pool
WHERE $domains IS NULL OR list_contains($domains, d.domain)
GROUP BY ALL
ORDER BY d.domain
