package main

// BuildMarker shows up in GET / so a rebuild is visible.
const BuildMarker = "coding-blog-v1"
