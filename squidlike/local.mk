# squidlike/: the daemon core.
libsquidlike_a_SOURCES += \
	%reldir%/buf.c %reldir%/buf.h %reldir%/bufpool.c %reldir%/bufpool.h \
	%reldir%/chars.c %reldir%/chars.h %reldir%/hash.h %reldir%/http.c %reldir%/http.h %reldir%/chunk.c %reldir%/chunk.h \
	%reldir%/conf.c %reldir%/conf.h %reldir%/conf_acl.c %reldir%/conf_pac.c %reldir%/conf_cache.c %reldir%/conf_rev.c %reldir%/conf_tls.c %reldir%/conf_limit.c %reldir%/conf_peer.c %reldir%/conf_workers.c %reldir%/conf_gw.c %reldir%/conf_gw_jwt.c %reldir%/conf_gw_route.c %reldir%/conf_int.h \
	%reldir%/gw_index.c %reldir%/gw_index.h \
	%reldir%/conf_ldap.c %reldir%/ldapq.c %reldir%/ldapq.h \
	%reldir%/log.c %reldir%/log.h %reldir%/logfmt.c %reldir%/logfmt.h \
	%reldir%/loop.c %reldir%/loop.h \
	%reldir%/net.c %reldir%/net.h \
	%reldir%/dns.c %reldir%/dns.h \
	%reldir%/origin.c %reldir%/origin.h \
	%reldir%/errpage.c %reldir%/errpage.h \
	%reldir%/client.c %reldir%/client.h %reldir%/client_int.h %reldir%/client_buf.c \
	%reldir%/client_access.c %reldir%/client_maxfwd.c %reldir%/client_hit.c \
	%reldir%/client_fill.c %reldir%/client_fwd.c %reldir%/client_oreq.c %reldir%/client_flow.c %reldir%/client_tunnel.c \
	%reldir%/client_leave.c %reldir%/client_txnlog.c %reldir%/client_timeout.c \
	%reldir%/client_collapse.c %reldir%/client_collapse.h \
	%reldir%/client_xcf.c %reldir%/client_xcf.h \
	%reldir%/client_bgfetch.c %reldir%/client_bgfetch.h \
	%reldir%/client_mgr.c %reldir%/client_rev.c %reldir%/client_limit.c %reldir%/client_gw.c %reldir%/client_gw_jwt.c \
	%reldir%/server.c %reldir%/server.h %reldir%/shared.c %reldir%/shared.h %reldir%/master.c %reldir%/master.h %reldir%/worker.c %reldir%/worker.h %reldir%/notify.c %reldir%/notify.h %reldir%/ipcount.c %reldir%/ipcount.h \
	%reldir%/metrics.c %reldir%/metrics.h \
	%reldir%/status.c %reldir%/status.h %reldir%/statuspage.c %reldir%/status_workers.c %reldir%/status_apis.c \
	%reldir%/apistats.c %reldir%/apistats_out.c %reldir%/apistats.h \
	%reldir%/hist.c %reldir%/hist.h %reldir%/top.c %reldir%/top.h \
	%reldir%/backend_pick.c %reldir%/backend_pick.h %reldir%/backend.c %reldir%/backend.h %reldir%/health.c %reldir%/health.h \
	%reldir%/shmlock.c %reldir%/shmlock.h %reldir%/health_shm.c %reldir%/health_shm.h \
	%reldir%/peer.c %reldir%/peer.h %reldir%/client_peer.c \
	%reldir%/tls.c %reldir%/tls_io.c %reldir%/tls.h \
	%reldir%/zip.c %reldir%/zip.h %reldir%/client_zip.c %reldir%/client_json.c %reldir%/conf_zip.c \
	%reldir%/workq.c %reldir%/workq.h %reldir%/client_negotiate.c

sbin_PROGRAMS += %reldir%/squidlike
%canon_reldir%_squidlike_SOURCES = %reldir%/main.c
%canon_reldir%_squidlike_LDADD = $(SL_LIBS)
# The gateway's quota counters in a shared file mapping (acl/quota.h inside).
libsquidlike_a_SOURCES += %reldir%/quota_store.c %reldir%/quota_store.h
