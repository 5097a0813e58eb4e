package main

import _ "github.com/clocal-dev/clocal/internal/engine"

func main() {}
