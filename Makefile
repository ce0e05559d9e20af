# kpswitch: build, test, install. `make test` is README's test command and what CI runs.
PREFIX ?= /usr/local
BINDIR = $(PREFIX)/bin
SHAREDIR = $(PREFIX)/share
CONFIGURATION ?= release
BINARY ?= .build/$(CONFIGURATION)/kpswitch

.PHONY: build test test-host rehearsal install install-files uninstall

build:
	swift build -c $(CONFIGURATION) --product kpswitch

# Everything: host tests and the real-kernel VM tests (README, "Tests").
test:
	Scripts/install-system-packages
	Scripts/test

# The fast loop: host tests only; VM tests are reported as skipped.
test-host:
	KPSWITCH_SKIP_VM=1 Scripts/test

rehearsal:
	Scripts/install-system-packages
	Scripts/rehearse

install: build install-files

# Installs BINARY as kpswitch, the kubectl plugin link and shell completions under PREFIX (DESTDIR honoured).
install-files:
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SHAREDIR)/bash-completion/completions \
		$(DESTDIR)$(SHAREDIR)/zsh/site-functions $(DESTDIR)$(SHAREDIR)/fish/vendor_completions.d
	install -m 0755 $(BINARY) $(DESTDIR)$(BINDIR)/kpswitch
	ln -sf kpswitch $(DESTDIR)$(BINDIR)/kubectl-kpswitch
	$(DESTDIR)$(BINDIR)/kpswitch --generate-completion-script bash > $(DESTDIR)$(SHAREDIR)/bash-completion/completions/kpswitch
	$(DESTDIR)$(BINDIR)/kpswitch --generate-completion-script zsh > $(DESTDIR)$(SHAREDIR)/zsh/site-functions/_kpswitch
	$(DESTDIR)$(BINDIR)/kpswitch --generate-completion-script fish > $(DESTDIR)$(SHAREDIR)/fish/vendor_completions.d/kpswitch.fish

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/kpswitch $(DESTDIR)$(BINDIR)/kubectl-kpswitch \
		$(DESTDIR)$(SHAREDIR)/bash-completion/completions/kpswitch \
		$(DESTDIR)$(SHAREDIR)/zsh/site-functions/_kpswitch \
		$(DESTDIR)$(SHAREDIR)/fish/vendor_completions.d/kpswitch.fish
