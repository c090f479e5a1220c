# filters/: header rewriting, client-IP stripping (pure).
libsquidlike_a_SOURCES += %reldir%/hdr.c %reldir%/hdr.h
