# t/e2e/: end-to-end tests, one Python 3 program per file (standard library
# only). Each starts the built daemon ($SQUIDLIKE) and its own origins, stub
# DNS and clients on 127.0.0.1 with free ports; see t/e2e/README.md.
# The long one comes first so that `make -j2 check` starts it early.
sl_e2e_tests += \
	t/e2e/test_large.py \
	t/e2e/test_workers.py \
	t/e2e/test_harness.py \
	t/e2e/test_proxy_basic.py \
	t/e2e/test_proxy_bodies.py \
	t/e2e/test_smuggling.py \
	t/e2e/test_keepalive.py \
	t/e2e/test_connect.py \
	t/e2e/test_peers.py \
	t/e2e/test_dns.py \
	t/e2e/test_errors.py \
	t/e2e/test_access.py \
	t/e2e/test_acl_ldap.py \
	t/e2e/test_reload.py \
	t/e2e/test_shutdown.py \
	t/e2e/test_config.py \
	t/e2e/test_limits.py \
	t/e2e/test_memory.py \
	t/e2e/test_cache.py \
	t/e2e/test_cache_crash.py \
	t/e2e/test_cache_collapse.py \
	t/e2e/test_collapse_workers.py \
	t/e2e/test_client_abort.py \
	t/e2e/test_range_fetch.py \
	t/e2e/test_apt.py \
	t/e2e/test_reverse.py \
	t/e2e/test_reverse_health.py \
	t/e2e/test_reverse_ops.py \
	t/e2e/test_api_analytics.py \
	t/e2e/test_reverse_tls.py \
	t/e2e/test_reverse_limits.py \
	t/e2e/test_reverse_compress.py \
	t/e2e/test_gateway_json.py \
	t/e2e/test_reverse_tls_backend.py \
	t/e2e/jwtmint.py \
	t/e2e/test_gateway_auth.py \
	t/e2e/test_gateway_limits.py \
	t/e2e/test_gateway_transform.py \
	t/e2e/test_gateway_analytics.py \
	t/e2e/test_cache_full.py \
	t/e2e/test_policy.py \
	t/e2e/test_auth_sni.py \
	t/e2e/test_auth_negotiate.py \
	t/e2e/test_pac.py \
	t/e2e/test_dashboard.py \
	t/e2e/test_metrics.py \
	t/e2e/test_status.py \
	t/e2e/test_docs.py \
	t/e2e/test_logs.py \
	t/e2e/test_install.py
EXTRA_DIST += t/e2e/README.md t/e2e/browser.py t/e2e/krb5realm.py
# The gateway's quota file around the daemon's life (workers killed, reload, bad file).
sl_e2e_tests += t/e2e/test_quota_store.py
