# etc/: the sample configuration, the logrotate rules and the systemd unit.
# Installed with system paths in place of the checkout's relative var/
# (which resolves against the working dir) and of the @...@ names.
EXTRA_DIST += %reldir%/squidlike.conf %reldir%/reverse.conf.example %reldir%/errors %reldir%/blocklists \
	%reldir%/logrotate.d/squidlike %reldir%/squidlike.service
sl_sed_paths = sed \
	-e 's|"var/run/|"$(localstatedir)/run/squidlike/|' \
	-e 's|"var/log/|"$(localstatedir)/log/squidlike/|' \
	-e 's|"var/cache/|"$(localstatedir)/cache/squidlike/|' \
	-e 's|"var/cache"|"$(localstatedir)/cache/squidlike"|' \
	-e 's|"etc/errors/|"$(pkgdatadir)/errors/|' \
	-e 's|"etc/blocklists"|"$(pkgdatadir)/blocklists"|'

# The block page template and the example blocklists (UT1 layout), where
# the installed configuration's comments point.
errorsdir = $(pkgdatadir)/errors
errors_DATA = %reldir%/errors/blocked.html
bl_adsdir = $(pkgdatadir)/blocklists/ads
bl_ads_DATA = %reldir%/blocklists/ads/domains %reldir%/blocklists/ads/urls
bl_malwaredir = $(pkgdatadir)/blocklists/malware
bl_malware_DATA = %reldir%/blocklists/malware/domains %reldir%/blocklists/malware/expressions
# [@] keeps config.status from substituting these names itself.
sl_sed_dirs = sed \
	-e 's|@sbindir[@]|$(sbindir)|g' \
	-e 's|@sysconfdir[@]|$(sysconfdir)|g' \
	-e 's|@localstatedir[@]|$(localstatedir)|g'

install-data-local:
	$(MKDIR_P) '$(DESTDIR)$(sysconfdir)'
	$(sl_sed_paths) $(srcdir)/etc/squidlike.conf > '$(DESTDIR)$(sysconfdir)/squidlike.conf.default'
	test -f '$(DESTDIR)$(sysconfdir)/squidlike.conf' || \
	  cp '$(DESTDIR)$(sysconfdir)/squidlike.conf.default' '$(DESTDIR)$(sysconfdir)/squidlike.conf'
	$(MKDIR_P) '$(DESTDIR)$(sysconfdir)/logrotate.d'
	$(sl_sed_dirs) $(srcdir)/etc/logrotate.d/squidlike > '$(DESTDIR)$(sysconfdir)/logrotate.d/squidlike'
	chmod 644 '$(DESTDIR)$(sysconfdir)/logrotate.d/squidlike'
if SL_SYSTEMD
	$(MKDIR_P) '$(DESTDIR)$(systemdsystemunitdir)'
	$(sl_sed_dirs) $(srcdir)/etc/squidlike.service > '$(DESTDIR)$(systemdsystemunitdir)/squidlike.service'
	chmod 644 '$(DESTDIR)$(systemdsystemunitdir)/squidlike.service'
endif
# The unit's ProtectSystem=full makes /usr read-only: with a localstatedir
# under /usr the daemon could not create these itself.
	$(MKDIR_P) '$(DESTDIR)$(localstatedir)/log/squidlike' \
	  '$(DESTDIR)$(localstatedir)/cache/squidlike' '$(DESTDIR)$(localstatedir)/run/squidlike'

# The directories under localstatedir stay: they hold logs and the cache.
uninstall-local:
	rm -f '$(DESTDIR)$(sysconfdir)/squidlike.conf.default'
	rm -f '$(DESTDIR)$(sysconfdir)/logrotate.d/squidlike'
if SL_SYSTEMD
	rm -f '$(DESTDIR)$(systemdsystemunitdir)/squidlike.service'
endif
