# filters/: header rewriting, client-IP stripping, the PAC writer (pure); category blocklists:
# blocklist.c and its parts bl_*.c (bl_int.h is private to them).
libsquidlike_a_SOURCES += %reldir%/hdr.c %reldir%/hdr.h %reldir%/page.c %reldir%/page.h \
	%reldir%/sni.c %reldir%/sni.h %reldir%/blocklist.c %reldir%/blocklist.h \
	%reldir%/bl_names.c %reldir%/bl_expr.c %reldir%/bl_rq.c %reldir%/bl_int.h \
	%reldir%/pac.c %reldir%/pac.h %reldir%/encoding.c %reldir%/encoding.h \
	%reldir%/query.c %reldir%/query.h
# json.c: a strict JSON parser into a caller's token array (JWT, JWKS,
# response bodies).
libsquidlike_a_SOURCES += %reldir%/json.c %reldir%/json.h
# jsonedit.c: members of a JSON body removed or renamed (response_json).
libsquidlike_a_SOURCES += %reldir%/jsonedit.c %reldir%/jsonedit.h
