package cli

import "github.com/fatih/color"

const (
	colorGreen  = color.FgGreen
	colorRed    = color.FgRed
	colorYellow = color.FgYellow
)

// serviceColors cycle over services in multiplexed logs.
var serviceColors = []color.Attribute{color.FgCyan, color.FgYellow, color.FgGreen, color.FgMagenta, color.FgBlue, color.FgHiCyan, color.FgHiYellow, color.FgHiGreen, color.FgHiMagenta, color.FgHiBlue}
