package redact

import (
	"strings"
	"testing"
)

// Corpus is what "secret" means for clocal: the values of secret-looking keys in every
// notation free text uses, credentials inside URLs and DSNs of the usual drivers,
// Authorization headers, private keys. The printing commands' tests run these through
// every command (internal/cli TestNoSecretIsPrinted).
var Corpus = LoadCorpus("testdata/corpus.tsv")

// notSecret must come out of Text unchanged.
var notSecret = []string{
	"kvstore listening on :7700",
	"markdown_addr=md-1:9300",
	"mail to noreply@coding.net from git@example.com:x/repo.git",
	"KEYCLOAK_URL=http://keycloak-1:8080/auth",
	"AUTHOR=alice MONKEY=banana",
	"time=12:30:45 level=info msg=\"started\"",
	"image registry.example.com/team/app:1.2.3",
	"http://[::1]:8080/healthz",
	"ports 127.0.0.1:49213->8866/tcp",
	"repo-manager  jobs: repo-manager-1  hosts: git-1",
	".env:1: want KEY=VALUE (no \"=\" on the line)",
	"DB_PASSWORD=$DB_PASSWORD token=${GITHUB_TOKEN} --password <password>",
}

func TestCorpus(t *testing.T) {
	if len(Corpus) < 30 {
		t.Fatalf("corpus of %d entries", len(Corpus))
	}
	for _, c := range Corpus {
		got := Text(c.Text)
		if strings.Contains(got, c.Secret) {
			t.Errorf("Text(%q) = %q: %q survived", c.Text, got, c.Secret)
		}
		if !strings.Contains(got, Mask) {
			t.Errorf("Text(%q) = %q: nothing masked", c.Text, got)
		}
		for _, k := range c.Keep {
			if !strings.Contains(got, k) {
				t.Errorf("Text(%q) = %q: lost %q", c.Text, got, k)
			}
		}
		// Text of Text changes nothing more.
		if again := Text(got); again != got {
			t.Errorf("Text not idempotent on %q: %q", got, again)
		}
	}
	for _, s := range notSecret {
		if got := Text(s); got != s {
			t.Errorf("Text(%q) = %q, want it unchanged", s, got)
		}
	}
}

func TestIsSecretKey(t *testing.T) {
	for key, want := range map[string]bool{
		"PASSWORD": true, "db_password": true, "DBPASSWORD": true, "MYSQL_ROOT_PASSWORD": true,
		"SECRET": true, "client_secret": true, "TOKEN": true, "githubToken": true,
		"KEY": true, "API_KEY": true, "apiKey": true, "private-key": true, "privateKey": true,
		"CREDENTIALS": true, "DSN": true, "SENTRY_DSN": true, "AUTH": true, "redis_auth": true,
		"PASSPHRASE": true, "PWD": true, "session": true,
		"port": false, "markdown_addr": false, "KEYCLOAK_URL": false, "AUTHOR": false,
		"MONKEY": false, "keyboard_layout": false, "LOG_LEVEL": false, "": false,
	} {
		if got := IsSecretKey(key); got != want {
			t.Errorf("IsSecretKey(%q) = %v, want %v", key, got, want)
		}
	}
}
