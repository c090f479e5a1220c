# t/: Check unit tests (one binary per module) and end-to-end tests that
# start the built daemon and real origins on 127.0.0.1.

# Unit tests: t/unit/check_<module>.c each, linked with the global LDADD
# (the library and Check; Check's CFLAGS are in AM_CFLAGS).
sl_unit_tests = t/unit/check_http t/unit/check_chunk t/unit/check_hdr t/unit/check_conf \
	t/unit/check_acl t/unit/check_loop t/unit/check_store t/unit/check_policy \
	t/unit/check_rules t/unit/check_auth t/unit/check_sni t/unit/check_page \
	t/unit/check_blocklist t/unit/check_pac t/unit/check_status \
	t/unit/check_logfmt t/unit/check_metrics t/unit/check_bufpool
if SL_HAVE_CHECK
check_PROGRAMS += $(sl_unit_tests)
TESTS += $(sl_unit_tests)
else
# configure found no Check: the daemon builds, make check stops here, before
# running anything, and says why.
check_SCRIPTS = sl-check-missing
sl-check-missing:
	@echo "make check: the unit tests need Check (pkg-config check >= 0.11), which" >&2; \
	echo "configure did not find. Install it (Debian: apt-get install check, or" >&2; \
	echo "./autogen.sh --test) and run ./configure again." >&2; \
	exit 1
endif

sl_e2e_tests =
include $(srcdir)/t/e2e/local.mk

TESTS += $(sl_e2e_tests)
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
sl_fuzz_blocklist_src = $(srcdir)/filters/blocklist.c $(srcdir)/filters/bl_names.c \
	$(srcdir)/filters/bl_expr.c $(srcdir)/filters/bl_rq.c $(srcdir)/squidlike/buf.c
t/fuzz/fuzz_blocklist: $(srcdir)/t/fuzz/fuzz_blocklist.c $(sl_fuzz_blocklist_src) \
	$(srcdir)/filters/blocklist.h $(srcdir)/filters/bl_int.h
	@test -n "$(FUZZ_CC)" || { echo "make fuzz needs clang (apt-get install clang)"; exit 1; }
	$(FUZZ_CC) -g -O1 -fsanitize=fuzzer,address,undefined -I$(top_srcdir) -I$(top_builddir) \
	  $(PCRE2_CFLAGS) -o $@ $(srcdir)/t/fuzz/fuzz_blocklist.c $(sl_fuzz_blocklist_src) $(PCRE2_LIBS)
t/fuzz/fuzz_policy: $(srcdir)/t/fuzz/fuzz_policy.c $(srcdir)/cache/policy.c $(srcdir)/cache/date.c $(srcdir)/cache/url.c $(srcdir)/squidlike/http.c $(srcdir)/squidlike/buf.c
	@test -n "$(FUZZ_CC)" || { echo "make fuzz needs clang (apt-get install clang)"; exit 1; }
	$(FUZZ_CC) -g -O1 -fsanitize=fuzzer,address,undefined -I$(top_srcdir) -I$(top_builddir) \
	  -o $@ $(srcdir)/t/fuzz/fuzz_policy.c $(srcdir)/cache/policy.c $(srcdir)/cache/date.c $(srcdir)/cache/url.c $(srcdir)/squidlike/http.c $(srcdir)/squidlike/buf.c
t/fuzz/fuzz_http: $(srcdir)/t/fuzz/fuzz_http.c $(srcdir)/squidlike/http.c $(srcdir)/squidlike/chunk.c $(srcdir)/squidlike/buf.c
	@test -n "$(FUZZ_CC)" || { echo "make fuzz needs clang (apt-get install clang)"; exit 1; }
	$(FUZZ_CC) -g -O1 -fsanitize=fuzzer,address,undefined -I$(top_srcdir) -I$(top_builddir) \
	  -o $@ $(srcdir)/t/fuzz/fuzz_http.c $(srcdir)/squidlike/http.c $(srcdir)/squidlike/chunk.c $(srcdir)/squidlike/buf.c
CLEANFILES += t/fuzz/fuzz_http t/fuzz/fuzz_policy t/fuzz/fuzz_blocklist t/fuzz/fuzz_sni t/fuzz/fuzz_logfmt
.PHONY: fuzz sl-check-missing
