package registry

import (
	"encoding/json"
	"errors"
	"io"

	"github.com/docker/docker/pkg/jsonmessage"
)

// MessageError is the error a daemon reported inside its JSON message stream (a pull, a
// push, an image load), as opposed to a broken stream.
type MessageError struct{ Message string }

func (e *MessageError) Error() string { return e.Message }

// ReadMessages reads a daemon's JSON message stream to its end, handing each message to
// fn (nil: none), and stops at the first message that carries an error (*MessageError)
// or at a stream that cannot be decoded (that error, as is).
func ReadMessages(r io.Reader, fn func(jsonmessage.JSONMessage)) error {
	dec := json.NewDecoder(r)
	for {
		var m jsonmessage.JSONMessage
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if m.Error != nil {
			return &MessageError{Message: m.Error.Message}
		}
		if fn != nil {
			fn(m)
		}
	}
}
