# cache/: the LMDB store and RFC 9111 policy arrive with issue 3.
EXTRA_DIST += %reldir%/README
