# acl/: access rules (pure).
libsquidlike_a_SOURCES += %reldir%/acl.c %reldir%/acl.h
