package main

// BuildMarker shows up in GET / so a rebuild is visible.
const BuildMarker = "code-search-v1"
