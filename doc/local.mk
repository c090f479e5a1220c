# doc/: the manual pages, installed into $(mandir)/man8 and $(mandir)/man5.
# t/e2e/test_docs.py fails when a setting the configuration loader accepts
# is missing from squidlike.conf.5, or when groff warns about a page.
dist_man_MANS = %reldir%/squidlike.8 %reldir%/squidlike.conf.5
