# t/: Check unit tests (one binary per module) and end-to-end tests that
# start the built daemon and real origins on 127.0.0.1.

sl_unit_tests = t/unit/check_chars t/unit/check_http t/unit/check_chunk t/unit/check_hdr t/unit/check_conf \
	t/unit/check_acl t/unit/check_loop t/unit/check_store t/unit/check_policy \
	t/unit/check_rules t/unit/check_auth t/unit/check_sni t/unit/check_page \
	t/unit/check_blocklist t/unit/check_pac t/unit/check_status \
	t/unit/check_logfmt t/unit/check_metrics t/unit/check_bufpool
check_PROGRAMS += $(sl_unit_tests)

t_unit_check_chars_SOURCES = t/unit/check_chars.c
t_unit_check_chars_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
t_unit_check_chars_LDADD = $(SL_LIBS) $(CHECK_LIBS)
t_unit_check_http_SOURCES = t/unit/check_http.c
t_unit_check_http_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
t_unit_check_http_LDADD = $(SL_LIBS) $(CHECK_LIBS)
t_unit_check_chunk_SOURCES = t/unit/check_chunk.c
t_unit_check_chunk_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
t_unit_check_chunk_LDADD = $(SL_LIBS) $(CHECK_LIBS)
t_unit_check_hdr_SOURCES = t/unit/check_hdr.c
t_unit_check_hdr_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
t_unit_check_hdr_LDADD = $(SL_LIBS) $(CHECK_LIBS)
t_unit_check_conf_SOURCES = t/unit/check_conf.c
t_unit_check_conf_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
t_unit_check_conf_LDADD = $(SL_LIBS) $(CHECK_LIBS)
t_unit_check_acl_SOURCES = t/unit/check_acl.c
t_unit_check_acl_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
t_unit_check_acl_LDADD = $(SL_LIBS) $(CHECK_LIBS)
t_unit_check_loop_SOURCES = t/unit/check_loop.c
t_unit_check_loop_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
t_unit_check_loop_LDADD = $(SL_LIBS) $(CHECK_LIBS)
t_unit_check_rules_SOURCES = t/unit/check_rules.c
t_unit_check_rules_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
t_unit_check_rules_LDADD = $(SL_LIBS) $(CHECK_LIBS)
t_unit_check_auth_SOURCES = t/unit/check_auth.c
t_unit_check_auth_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
t_unit_check_auth_LDADD = $(SL_LIBS) $(CHECK_LIBS)
t_unit_check_sni_SOURCES = t/unit/check_sni.c
t_unit_check_sni_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
t_unit_check_sni_LDADD = $(SL_LIBS) $(CHECK_LIBS)
t_unit_check_page_SOURCES = t/unit/check_page.c
t_unit_check_page_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
t_unit_check_page_LDADD = $(SL_LIBS) $(CHECK_LIBS)
t_unit_check_blocklist_SOURCES = t/unit/check_blocklist.c
t_unit_check_blocklist_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
t_unit_check_blocklist_LDADD = $(SL_LIBS) $(CHECK_LIBS)
t_unit_check_policy_SOURCES = t/unit/check_policy.c
t_unit_check_policy_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
t_unit_check_policy_LDADD = $(SL_LIBS) $(CHECK_LIBS)
t_unit_check_pac_SOURCES = t/unit/check_pac.c
t_unit_check_pac_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
t_unit_check_pac_LDADD = $(SL_LIBS) $(CHECK_LIBS)
t_unit_check_status_SOURCES = t/unit/check_status.c
t_unit_check_status_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
t_unit_check_status_LDADD = $(SL_LIBS) $(CHECK_LIBS)
t_unit_check_metrics_SOURCES = t/unit/check_metrics.c
t_unit_check_metrics_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
t_unit_check_metrics_LDADD = $(SL_LIBS) $(CHECK_LIBS)
t_unit_check_logfmt_SOURCES = t/unit/check_logfmt.c
t_unit_check_logfmt_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
t_unit_check_logfmt_LDADD = $(SL_LIBS) $(CHECK_LIBS)
t_unit_check_bufpool_SOURCES = t/unit/check_bufpool.c
t_unit_check_bufpool_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
t_unit_check_bufpool_LDADD = $(SL_LIBS) $(CHECK_LIBS)
t_unit_check_store_SOURCES = t/unit/check_store.c
t_unit_check_store_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
t_unit_check_store_LDADD = $(SL_LIBS) $(CHECK_LIBS)

sl_e2e_tests =
include $(srcdir)/t/e2e/local.mk

# The layering rule of design.md "Layout" over the #include lines (and the
# socket/loop calls of the pure rooms), and a self-test of that check on
# planted violations, so that it cannot silently stop checking.
sl_layering_tests = t/layering.py t/layering_test.py
EXTRA_DIST += $(sl_layering_tests)

TESTS += $(sl_layering_tests) $(sl_unit_tests) $(sl_e2e_tests)
TEST_EXTENSIONS = .py
PY_LOG_COMPILER = python3
AM_TESTS_ENVIRONMENT = \
	CK_FORK=yes; export CK_FORK; \
	CK_DEFAULT_TIMEOUT=30; export CK_DEFAULT_TIMEOUT; \
	top_srcdir='$(abs_top_srcdir)'; export top_srcdir; \
	SQUIDLIKE='$(abs_top_builddir)/squidlike/squidlike'; export SQUIDLIKE;
EXTRA_DIST += $(sl_e2e_tests) t/e2e/harness.py

# libFuzzer targets (clang): `make fuzz`, then run t/fuzz/fuzz_http
# (seeds in t/fuzz/corpus), t/fuzz/fuzz_policy (t/fuzz/corpus-policy) or
# t/fuzz/fuzz_blocklist -max_len=4096 (t/fuzz/corpus-blocklist) or
# t/fuzz/fuzz_sni (t/fuzz/corpus-sni), t/fuzz/fuzz_logfmt (no seeds needed).
EXTRA_DIST += t/fuzz/fuzz_http.c t/fuzz/corpus t/fuzz/fuzz_policy.c t/fuzz/corpus-policy \
	t/fuzz/fuzz_blocklist.c t/fuzz/corpus-blocklist t/fuzz/fuzz_sni.c t/fuzz/corpus-sni \
	t/fuzz/fuzz_logfmt.c
fuzz: t/fuzz/fuzz_http t/fuzz/fuzz_policy t/fuzz/fuzz_blocklist t/fuzz/fuzz_sni t/fuzz/fuzz_logfmt
t/fuzz/fuzz_logfmt: $(srcdir)/t/fuzz/fuzz_logfmt.c $(srcdir)/squidlike/logfmt.c $(srcdir)/squidlike/logfmt.h $(srcdir)/squidlike/buf.c
	@test -n "$(FUZZ_CC)" || { echo "make fuzz needs clang (apt-get install clang)"; exit 1; }
	$(FUZZ_CC) -g -O1 -fsanitize=fuzzer,address,undefined -I$(top_srcdir) -I$(top_builddir) \
	  -o $@ $(srcdir)/t/fuzz/fuzz_logfmt.c $(srcdir)/squidlike/logfmt.c $(srcdir)/squidlike/buf.c
t/fuzz/fuzz_sni: $(srcdir)/t/fuzz/fuzz_sni.c $(srcdir)/filters/sni.c
	@test -n "$(FUZZ_CC)" || { echo "make fuzz needs clang (apt-get install clang)"; exit 1; }
	$(FUZZ_CC) -g -O1 -fsanitize=fuzzer,address,undefined -I$(top_srcdir) -I$(top_builddir) \
	  -o $@ $(srcdir)/t/fuzz/fuzz_sni.c $(srcdir)/filters/sni.c
sl_fuzz_blocklist_src = $(srcdir)/squidlike/chars.c $(srcdir)/filters/blocklist.c $(srcdir)/filters/bl_names.c \
	$(srcdir)/filters/bl_expr.c $(srcdir)/filters/bl_rq.c $(srcdir)/squidlike/buf.c
t/fuzz/fuzz_blocklist: $(srcdir)/t/fuzz/fuzz_blocklist.c $(sl_fuzz_blocklist_src) \
	$(srcdir)/filters/blocklist.h $(srcdir)/filters/bl_int.h
	@test -n "$(FUZZ_CC)" || { echo "make fuzz needs clang (apt-get install clang)"; exit 1; }
	$(FUZZ_CC) -g -O1 -fsanitize=fuzzer,address,undefined -I$(top_srcdir) -I$(top_builddir) \
	  $(PCRE2_CFLAGS) -o $@ $(srcdir)/t/fuzz/fuzz_blocklist.c $(sl_fuzz_blocklist_src) $(PCRE2_LIBS)
t/fuzz/fuzz_policy: $(srcdir)/t/fuzz/fuzz_policy.c $(srcdir)/squidlike/chars.c $(srcdir)/cache/policy.c $(srcdir)/cache/date.c $(srcdir)/cache/url.c $(srcdir)/squidlike/http.c $(srcdir)/squidlike/buf.c
	@test -n "$(FUZZ_CC)" || { echo "make fuzz needs clang (apt-get install clang)"; exit 1; }
	$(FUZZ_CC) -g -O1 -fsanitize=fuzzer,address,undefined -I$(top_srcdir) -I$(top_builddir) \
	  -o $@ $(srcdir)/t/fuzz/fuzz_policy.c $(srcdir)/squidlike/chars.c $(srcdir)/cache/policy.c $(srcdir)/cache/date.c $(srcdir)/cache/url.c $(srcdir)/squidlike/http.c $(srcdir)/squidlike/buf.c
t/fuzz/fuzz_http: $(srcdir)/t/fuzz/fuzz_http.c $(srcdir)/squidlike/chars.c $(srcdir)/squidlike/http.c $(srcdir)/squidlike/chunk.c $(srcdir)/squidlike/buf.c
	@test -n "$(FUZZ_CC)" || { echo "make fuzz needs clang (apt-get install clang)"; exit 1; }
	$(FUZZ_CC) -g -O1 -fsanitize=fuzzer,address,undefined -I$(top_srcdir) -I$(top_builddir) \
	  -o $@ $(srcdir)/t/fuzz/fuzz_http.c $(srcdir)/squidlike/chars.c $(srcdir)/squidlike/http.c $(srcdir)/squidlike/chunk.c $(srcdir)/squidlike/buf.c
CLEANFILES += t/fuzz/fuzz_http t/fuzz/fuzz_policy t/fuzz/fuzz_blocklist t/fuzz/fuzz_sni t/fuzz/fuzz_logfmt
.PHONY: fuzz
