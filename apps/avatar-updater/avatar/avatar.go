// Package avatar is the avatar-updater service: user avatars are stored in kvstore under
// "avatar/<user>"; users without one get a generated SVG identicon.
//
//	PUT /avatars/<user>  body: image (≤256 KiB, sniffed) → 200 {"user", "sha256", "content_type"}
//	GET /avatars/<user>  → the image (X-Avatar: stored|generated)
package avatar

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/clocal-dev/clocal/apps/internal/svc"
)

const maxAvatar = 256 << 10

// Avatar is what kvstore keeps ([]byte is base64 in JSON).
type Avatar struct {
	ContentType string    `json:"content_type"`
	SHA256      string    `json:"sha256"`
	Data        []byte    `json:"data"`
	Updated     time.Time `json:"updated"`
}

// Updater serves /avatars.
type Updater struct{ KV svc.KV }

// Deps implements svc.Component.
func (u *Updater) Deps() []svc.Dep { return []svc.Dep{{Name: "kvstore", Addr: u.KV.Addr}} }

// Register implements svc.Component.
func (u *Updater) Register(mux *http.ServeMux) {
	mux.HandleFunc("PUT /avatars/{user}", func(w http.ResponseWriter, r *http.Request) {
		data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAvatar))
		if err != nil {
			svc.Error(w, http.StatusRequestEntityTooLarge, "avatar larger than 256 KiB")
			return
		}
		ct := http.DetectContentType(data)
		if !strings.HasPrefix(ct, "image/") {
			svc.Error(w, http.StatusUnsupportedMediaType, "not an image: "+ct)
			return
		}
		sum := sha256.Sum256(data)
		a := Avatar{ContentType: ct, SHA256: hex.EncodeToString(sum[:]), Data: data, Updated: time.Now().UTC()}
		if err := u.KV.PutJSON(r.Context(), "avatar/"+r.PathValue("user"), a); err != nil {
			svc.Error(w, http.StatusBadGateway, err.Error())
			return
		}
		svc.WriteJSON(w, http.StatusOK, map[string]string{"user": r.PathValue("user"), "sha256": a.SHA256, "content_type": ct})
	})
	mux.HandleFunc("GET /avatars/{user}", func(w http.ResponseWriter, r *http.Request) {
		user := r.PathValue("user")
		var a Avatar
		err := u.KV.GetJSON(r.Context(), "avatar/"+user, &a)
		switch {
		case errors.Is(err, svc.ErrNotFound):
			w.Header().Set("Content-Type", "image/svg+xml")
			w.Header().Set("X-Avatar", "generated")
			_, _ = io.WriteString(w, Identicon(user))
		case err != nil:
			svc.Error(w, http.StatusBadGateway, err.Error())
		default:
			w.Header().Set("Content-Type", a.ContentType)
			w.Header().Set("ETag", `"`+a.SHA256+`"`)
			w.Header().Set("X-Avatar", "stored")
			_, _ = w.Write(a.Data)
		}
	})
}

// Identicon draws a symmetric 5x5 SVG pattern whose cells and colour come from sha256(user).
func Identicon(user string) string {
	h := sha256.Sum256([]byte(user))
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 5 5" width="80" height="80"><rect width="5" height="5" fill="#f0f0f0"/>`)
	color := fmt.Sprintf("#%02x%02x%02x", h[0], h[1], h[2])
	for y := 0; y < 5; y++ {
		for x := 0; x < 3; x++ {
			if h[3+y*3+x]&1 == 0 {
				continue
			}
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="1" height="1" fill="%s"/>`, x, y, color)
			if x < 2 {
				fmt.Fprintf(&b, `<rect x="%d" y="%d" width="1" height="1" fill="%s"/>`, 4-x, y, color)
			}
		}
	}
	b.WriteString("</svg>")
	return b.String()
}
