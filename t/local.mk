# t/: Check unit tests (one binary per module), the fuzz targets' corpora
# replayed, and end-to-end tests that start the built daemon and real
# origins on 127.0.0.1.

# Unit tests: t/unit/check_<module>.c each, linked with the global LDADD
# (the library and Check; Check's CFLAGS are in AM_CFLAGS).
sl_unit_tests = t/unit/check_chars t/unit/check_http t/unit/check_chunk t/unit/check_hdr t/unit/check_conf \
	t/unit/check_acl t/unit/check_loop t/unit/check_store t/unit/check_policy \
	t/unit/check_rules t/unit/check_auth t/unit/check_sni t/unit/check_page \
	t/unit/check_blocklist t/unit/check_pac t/unit/check_status \
	t/unit/check_logfmt t/unit/check_metrics t/unit/check_bufpool \
	t/unit/check_pick t/unit/check_route t/unit/check_targeted t/unit/check_backend \
	t/unit/check_tls t/unit/check_ratelimit t/unit/check_encoding t/unit/check_zip \
	t/unit/check_workq t/unit/check_negotiate t/unit/check_peer \
	t/unit/check_apistats
# rev_fixture.h: a reverse-mode configuration and its live state for the
# pages' tests (check_metrics, check_status).
EXTRA_DIST += t/unit/rev_fixture.h t/unit/conf_fixture.h
# The workers' shared lock (a holder killed inside it).
sl_unit_tests += t/unit/check_shmlock t/unit/check_health_shm t/unit/check_ipcount
# The gateway's quotas: windows, counts, and the file they live in.
sl_unit_tests += t/unit/check_quota
# The ldap_group ACL: its cache and filters (pure), its lookups.
sl_unit_tests += t/unit/check_group t/unit/check_ldapq
# The shared table of fetches in flight (cross-worker collapsing).
sl_unit_tests += t/unit/check_inflight
# The API gateway: query parameters read and edited.
sl_unit_tests += t/unit/check_query t/unit/check_conf_gw
# The API gateway's pure parts: JSON, JWT/JWKS verification and its cache.
sl_unit_tests += t/unit/check_json t/unit/check_jwt t/unit/check_jwks t/unit/check_jsonedit
# jwt_fixture.h: RFC examples, keys made at test time, a token signer.
EXTRA_DIST += t/unit/jwt_fixture.h
# check_zip decodes what it coded: Brotli's decoder (zlib inflates).
t_unit_check_zip_LDADD = $(LDADD) $(BROTLIDEC_LIBS)
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

# Fuzz targets: t/fuzz/fuzz_<name>.c defines LLVMFuzzerTestOneInput; its
# seeds, and the reproducers of fixed findings, are in t/fuzz/corpus/<name>/.
# Each is built twice:
#  - t/fuzz/replay_<name> (make check): the target and replay.c's main(),
#    by the normal compiler with the normal flags, replays the corpus as a
#    test in a few seconds (under ASan+UBSan in CI's second run);
#  - t/fuzz/fuzz_<name> (make fuzz): the target linked with libFuzzer by
#    $(FUZZ_CC), against the library built again with its instrumentation.
sl_fuzz_replays = t/fuzz/replay_http t/fuzz/replay_policy t/fuzz/replay_blocklist \
	t/fuzz/replay_sni t/fuzz/replay_logfmt t/fuzz/replay_conf t/fuzz/replay_rules \
	t/fuzz/replay_route t/fuzz/replay_jwt
check_PROGRAMS += $(sl_fuzz_replays)
t_fuzz_replay_http_SOURCES = t/fuzz/fuzz_http.c t/fuzz/replay.c
t_fuzz_replay_policy_SOURCES = t/fuzz/fuzz_policy.c t/fuzz/replay.c
t_fuzz_replay_blocklist_SOURCES = t/fuzz/fuzz_blocklist.c t/fuzz/replay.c
t_fuzz_replay_sni_SOURCES = t/fuzz/fuzz_sni.c t/fuzz/replay.c
t_fuzz_replay_logfmt_SOURCES = t/fuzz/fuzz_logfmt.c t/fuzz/replay.c
t_fuzz_replay_conf_SOURCES = t/fuzz/fuzz_conf.c t/fuzz/replay.c
t_fuzz_replay_rules_SOURCES = t/fuzz/fuzz_rules.c t/fuzz/replay.c
t_fuzz_replay_route_SOURCES = t/fuzz/fuzz_route.c t/fuzz/replay.c
t_fuzz_replay_jwt_SOURCES = t/fuzz/fuzz_jwt.c t/fuzz/replay.c
EXTRA_DIST += t/fuzz/corpus

sl_e2e_tests =
include $(srcdir)/t/e2e/local.mk

# The layering rule of design.md "Layout" over the #include lines (and the
# socket/loop calls of the pure rooms), and a self-test of that check on
# planted violations, so that it cannot silently stop checking.
sl_layering_tests = t/layering.py t/layering_test.py
EXTRA_DIST += $(sl_layering_tests)

TESTS += $(sl_layering_tests) $(sl_fuzz_replays) $(sl_e2e_tests)
TEST_EXTENSIONS = .py
PY_LOG_COMPILER = python3
AM_TESTS_ENVIRONMENT = \
	CK_FORK=yes; export CK_FORK; \
	CK_DEFAULT_TIMEOUT=90; export CK_DEFAULT_TIMEOUT; \
	top_srcdir='$(abs_top_srcdir)'; export top_srcdir; \
	SQUIDLIKE='$(abs_top_builddir)/squidlike/squidlike'; export SQUIDLIKE;
EXTRA_DIST += $(sl_e2e_tests) t/e2e/harness.py

# make fuzz (needs clang): the library's sources compiled again by
# $(FUZZ_CC) with coverage and ASan+UBSan into t/fuzz/lib/, archived, and
# each target linked from one pattern rule. Run one with a scratch copy of
# its seeds as the first corpus directory (libFuzzer adds what it finds
# there), e.g.
#   cp -r t/fuzz/corpus/http /tmp/c && t/fuzz/fuzz_http -max_total_time=600 /tmp/c
sl_fuzz_bins = $(sl_fuzz_replays:t/fuzz/replay_%=t/fuzz/fuzz_%)
sl_fuzz_objs = $(patsubst %.c,t/fuzz/lib/%.o,$(filter %.c,$(libsquidlike_a_SOURCES)))
sl_fuzz_headers = $(filter %.h,$(libsquidlike_a_SOURCES)) config.h
SL_FUZZ_FLAGS = -g -O1 $(DEFS) $(AM_CPPFLAGS) $(CPPFLAGS) $(SL_DEP_CFLAGS)
sl_fuzz_need_cc = @test -n "$(FUZZ_CC)" || { \
	echo "make fuzz needs clang (apt-get install clang; or configure FUZZ_CC=...)" >&2; exit 1; }

fuzz: $(sl_fuzz_bins)
t/fuzz/lib/%.o: $(srcdir)/%.c $(sl_fuzz_headers)
	$(sl_fuzz_need_cc)
	@$(MKDIR_P) $(@D)
	$(AM_V_CC)$(FUZZ_CC) $(SL_FUZZ_FLAGS) -fsanitize=fuzzer-no-link,address,undefined -c -o $@ $<
t/fuzz/libsquidlike-fuzz.a: $(sl_fuzz_objs)
	$(AM_V_AR)rm -f $@ && $(AR) $(ARFLAGS) $@ $(sl_fuzz_objs)
	$(AM_V_at)$(RANLIB) $@
t/fuzz/fuzz_%: $(srcdir)/t/fuzz/fuzz_%.c t/fuzz/libsquidlike-fuzz.a $(sl_fuzz_headers)
	$(sl_fuzz_need_cc)
	$(AM_V_CCLD)$(FUZZ_CC) $(SL_FUZZ_FLAGS) -fsanitize=fuzzer,address,undefined \
	  -o $@ $< t/fuzz/libsquidlike-fuzz.a $(SL_DEP_LIBS)
clean-local:
	rm -rf t/fuzz/lib
CLEANFILES += $(sl_fuzz_bins) t/fuzz/libsquidlike-fuzz.a
.PHONY: fuzz sl-check-missing
