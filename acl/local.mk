# acl/: access rules (pure).
# Quotas per consumer and window (the gateway; the file is squidlike/quota_store.c).
libsquidlike_a_SOURCES += %reldir%/quota.c %reldir%/quota.h
libsquidlike_a_SOURCES += %reldir%/acl.c %reldir%/acl.h \
	%reldir%/auth.c %reldir%/auth.h %reldir%/auth_int.h %reldir%/negotiate.c %reldir%/negotiate.h \
	%reldir%/rules.c %reldir%/rules.h %reldir%/rules_int.h %reldir%/match.c \
	%reldir%/route.c %reldir%/route.h %reldir%/ratelimit.c %reldir%/ratelimit.h \
	%reldir%/group.c %reldir%/group.h \
	%reldir%/jwt.c %reldir%/jwt.h %reldir%/jwt_int.h %reldir%/jwks.c %reldir%/jwt_cache.c \
	%reldir%/b64.c %reldir%/b64.h
