# filters/: header rewriting, client-IP stripping (pure).
libsquidlike_a_SOURCES += %reldir%/hdr.c %reldir%/hdr.h %reldir%/page.c %reldir%/page.h \
	%reldir%/sni.c %reldir%/sni.h %reldir%/blocklist.c %reldir%/blocklist.h
