go 1.17

module github.com/fsnotify/fsevents
