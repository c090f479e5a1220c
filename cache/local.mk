# cache/: the LMDB store and RFC 9111 policy arrive with issue 3.
EXTRA_DIST += %reldir%/README
libsquidlike_a_SOURCES += %reldir%/store.c %reldir%/store.h
libsquidlike_a_SOURCES += %reldir%/refresh.c %reldir%/refresh.h
libsquidlike_a_SOURCES += %reldir%/policy.c %reldir%/policy.h
