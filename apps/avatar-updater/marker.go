package main

// BuildMarker shows up in GET / so a rebuild is visible.
const BuildMarker = "avatar-updater-v1"
