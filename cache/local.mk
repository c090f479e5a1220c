# cache/: the LMDB object store, the RFC 9111 policy (pure), refresh_patterns.
libsquidlike_a_SOURCES += %reldir%/store.c %reldir%/store_open.c %reldir%/store_pause.c %reldir%/store_write.c \
	%reldir%/store.h %reldir%/store_int.h
libsquidlike_a_SOURCES += %reldir%/refresh.c %reldir%/refresh.h
libsquidlike_a_SOURCES += %reldir%/policy.c %reldir%/policy.h %reldir%/date.c %reldir%/url.c \
	%reldir%/targeted.c
# the fetches in flight of every worker (shared memory: collapsed forwarding)
libsquidlike_a_SOURCES += %reldir%/inflight.c %reldir%/inflight.h
