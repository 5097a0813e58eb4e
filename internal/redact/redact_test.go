package redact

import (
	"strings"
	"testing"
)

func TestValue(t *testing.T) {
	cases := []struct{ key, value, want string }{
		{"port", "8866", "8866"},
		{"DB_PASSWORD", "hunter2", Mask},
		{"github_token", "ghp_x", Mask},
		{"API_KEY", "abc", Mask},
		{"client_secret", "s", Mask},
		{"markdown_addr", "md-1:9300", "md-1:9300"},
		{"database_url", "postgres://app:hunter2@db-1:5432/app", "postgres://app:" + Mask + "@db-1:5432/app"},
		{"mysql", "app:hunter2@tcp(db-1:3306)/app", "app:" + Mask + "@tcp(db-1:3306)/app"},
		{"mail_from", "noreply@coding.net", "noreply@coding.net"},
		{"empty_password", "", ""},
	}
	for _, c := range cases {
		if got := Value(c.key, c.value); got != c.want {
			t.Errorf("Value(%q, %q) = %q, want %q", c.key, c.value, got, c.want)
		}
	}
}

func TestEnvAndMap(t *testing.T) {
	got := Env([]string{"PASSWORD=x", "port=1", "NOVALUE"})
	if strings.Join(got, ",") != "PASSWORD="+Mask+",port=1,NOVALUE" {
		t.Fatalf("Env = %v", got)
	}
	v := "x"
	m := Map(map[string]*string{"token": &v, "nil": nil})
	if *m["token"] != Mask || m["nil"] != nil || v != "x" {
		t.Fatalf("Map = %v (input changed: %v)", m, v != "x")
	}
}

func TestText(t *testing.T) {
	cases := []struct{ in, want string }{
		{"kvstore listening on :7700", "kvstore listening on :7700"},
		{"connecting with DB_PASSWORD=hunter2 now", "connecting with DB_PASSWORD=" + Mask + " now"},
		{`{"api_key": "abc123", "port": 80}`, `{"api_key": "` + Mask + `", "port": 80}`},
		{"token: ghp_xyz", "token: " + Mask},
		{"dial postgres://app:hunter2@db-1:5432/app failed", "dial postgres://app:" + Mask + "@db-1:5432/app failed"},
		{"mail to noreply@coding.net", "mail to noreply@coding.net"},
		{"GET /repos?auth=s3cr3t&x=1", "GET /repos?auth=" + Mask + "&x=1"},
		// Image references whose name is a secret-looking word keep their tag.
		{"cannot pull registry.corp/team/auth-service:1.2 (auth) from registry registry.corp", "cannot pull registry.corp/team/auth-service:1.2 (auth) from registry registry.corp"},
		{"pulling 127.0.0.1:5000/team/private:1 (for priv)", "pulling 127.0.0.1:5000/team/private:1 (for priv)"},
		{"image registry.corp/secret-store:3, token: abc123", "image registry.corp/secret-store:3, token: " + Mask},
		{"/etc/app/db_password=hunter2", "/etc/app/db_password=" + Mask},
	}
	for _, c := range cases {
		if got := Text(c.in); got != c.want {
			t.Errorf("Text(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
