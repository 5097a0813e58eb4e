package redact

import (
	"strings"
	"testing"
)

// secret is one corpus entry: a text holding the secret value hidden, which Text must
// mask while keeping what is not secret.
type secret struct {
	text   string
	hidden string   // must not survive
	keep   []string // must survive
}

// Corpus is what "secret" means for clocal: the values of secret-looking keys in every
// notation free text uses, credentials inside URLs and DSNs of the usual drivers,
// Authorization headers, private keys. The printing commands' tests run these through
// every command (internal/cli TestNoSecretIsPrinted).
var Corpus = []secret{
	// env notations
	{"DB_PASSWORD=Hunter2-pw", "Hunter2-pw", []string{"DB_PASSWORD="}},
	{"export MYSQL_ROOT_PASSWORD='Hunter2-pw'", "Hunter2-pw", []string{"MYSQL_ROOT_PASSWORD"}},
	{"DBPASSWORD=Hunter2-pw", "Hunter2-pw", nil},
	{"dbPassword: Hunter2-pw", "Hunter2-pw", []string{"dbPassword"}},
	{"passwd=Hunter2-pw", "Hunter2-pw", nil},
	{"PGPASSPHRASE=Hunter2-pw", "Hunter2-pw", nil},
	{"CLIENT_SECRET=s3cr3t-v4lue", "s3cr3t-v4lue", []string{"CLIENT_SECRET"}},
	{"jwtSecret: s3cr3t-v4lue", "s3cr3t-v4lue", nil},
	{"GITHUB_TOKEN=ghp_16C7e42F292c6912E7710c838347Ae178B4a", "ghp_16C7e42F292c6912E7710c838347Ae178B4a", nil},
	{"access_token: eyJhbGciOiJIUzI1NiJ9.e30.abc", "eyJhbGciOiJIUzI1NiJ9", nil},
	{"API_KEY=AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE", []string{"API_KEY"}},
	{"apiKey=AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE", nil},
	{"AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI", nil},
	{"private_key=MIIEvQIBADANBgkq", "MIIEvQIBADANBgkq", nil},
	{"GOOGLE_APPLICATION_CREDENTIALS=/run/secrets/gcp.json", "/run/secrets/gcp.json", nil},
	{"REDIS_AUTH=r3dis-pass", "r3dis-pass", nil},
	{"SENTRY_DSN=https://0123456789abcdef@o1.ingest.sentry.io/1", "0123456789abcdef", nil},
	{"session_cookie=abcdef0123456789", "abcdef0123456789", nil},
	{`{"password": "Hunter2-pw", "port": 8866}`, "Hunter2-pw", []string{`"port": 8866`}},
	{`{"API_TOKEN":"tok-123456"}`, "tok-123456", nil},
	{`token = "tok-123456"`, "tok-123456", nil},
	{"  - --db-password=Hunter2-pw", "Hunter2-pw", []string{"--db-password="}},
	{"exec app --password Hunter2-pw --port 80", "Hunter2-pw", []string{"--port 80"}},
	{"env markdown_addr=md-1:9300 secret_key=sk_live_51H8", "sk_live_51H8", []string{"markdown_addr=md-1:9300"}},
	// credentials inside URLs and DSNs
	{"postgres://app:Hunter2-pw@db-1:5432/app?sslmode=disable", "Hunter2-pw", []string{"postgres://app:", "@db-1:5432/app"}},
	{"DATABASE_URL=postgresql://app:Hunter2-pw@db-1/app", "Hunter2-pw", []string{"DATABASE_URL="}},
	{"mysql: app:Hunter2-pw@tcp(db-1:3306)/app?parseTime=true", "Hunter2-pw", []string{"@tcp(db-1:3306)/app"}},
	{"mongodb+srv://admin:Hunter2-pw@cluster0.example.net/test", "Hunter2-pw", []string{"mongodb+srv://admin:"}},
	{"redis://:Hunter2-pw@cache-1:6379/0", "Hunter2-pw", []string{"@cache-1:6379/0"}},
	{"amqp://guest:Hunter2-pw@mq-1:5672/", "Hunter2-pw", nil},
	{"https://deploy:Hunter2-pw@git.example.com/org/repo.git", "Hunter2-pw", []string{"git.example.com/org/repo.git"}},
	{"dial tcp: lookup postgres://app:Hunter2-pw@db-1: no such host", "Hunter2-pw", []string{"no such host"}},
	{"jdbc:postgresql://db-1:5432/app?user=app&password=Hunter2-pw&ssl=true", "Hunter2-pw", []string{"ssl=true"}},
	{"Server=db-1;Database=app;User Id=app;Password=Hunter2-pw;", "Hunter2-pw", []string{"Server=db-1;Database=app"}},
	{"GET /api?access_token=tok-123456&page=2", "tok-123456", []string{"page=2"}},
	// headers and keys
	{"Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig", "eyJhbGciOiJIUzI1NiJ9", []string{"Authorization: Bearer"}},
	{"authorization: Basic YWRtaW46SHVudGVyMi1wdw==", "YWRtaW46SHVudGVyMi1wdw==", nil},
	{"-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7\n-----END RSA PRIVATE KEY-----", "MIIEowIBAAKCAQEA7", nil},
}

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
	for _, c := range Corpus {
		got := Text(c.text)
		if strings.Contains(got, c.hidden) {
			t.Errorf("Text(%q) = %q: %q survived", c.text, got, c.hidden)
		}
		if !strings.Contains(got, Mask) {
			t.Errorf("Text(%q) = %q: nothing masked", c.text, got)
		}
		for _, k := range c.keep {
			if !strings.Contains(got, k) {
				t.Errorf("Text(%q) = %q: lost %q", c.text, got, k)
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
