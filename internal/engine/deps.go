package engine

import (
	_ "github.com/compose-spec/compose-go/v2/loader"
	_ "github.com/compose-spec/compose-go/v2/types"
	_ "github.com/creack/pty"
	_ "github.com/docker/cli/cli/command"
	_ "github.com/docker/cli/cli/flags"
	_ "github.com/docker/compose/v2/pkg/api"
	_ "github.com/docker/compose/v2/pkg/compose"
	_ "github.com/docker/docker/client"
	_ "github.com/fatih/color"
	_ "github.com/fsnotify/fsnotify"
	_ "github.com/moby/patternmatcher"
	_ "github.com/spf13/cobra"
	_ "google.golang.org/protobuf/encoding/prototext"
	_ "gopkg.in/yaml.v3"
)
