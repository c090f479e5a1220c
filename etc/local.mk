# etc/: the sample configuration. Installed with system paths in place of
# the checkout's relative var/ (which resolves against the working dir).
EXTRA_DIST += %reldir%/squidlike.conf %reldir%/errors %reldir%/blocklists
sl_sed_paths = sed \
	-e 's|"var/run/|"$(localstatedir)/run/squidlike/|' \
	-e 's|"var/log/|"$(localstatedir)/log/squidlike/|' \
	-e 's|"var/cache/|"$(localstatedir)/cache/squidlike/|' \
	-e 's|"var/cache"|"$(localstatedir)/cache/squidlike"|'

install-data-local:
	$(MKDIR_P) '$(DESTDIR)$(sysconfdir)'
	$(sl_sed_paths) $(srcdir)/etc/squidlike.conf > '$(DESTDIR)$(sysconfdir)/squidlike.conf.default'
	test -f '$(DESTDIR)$(sysconfdir)/squidlike.conf' || \
	  cp '$(DESTDIR)$(sysconfdir)/squidlike.conf.default' '$(DESTDIR)$(sysconfdir)/squidlike.conf'

uninstall-local:
	rm -f '$(DESTDIR)$(sysconfdir)/squidlike.conf.default'
