// Package clientconf changes container clients' own configuration files so
// that they pull through the mirror, and takes the change back: Docker's
// daemon.json, containerd's hosts.toml files (and a check of its
// config.toml, which it never edits), podman's registries.conf. The edits
// are pure functions from a file's old bytes to its new ones, leaving
// everything of the user's as it was, byte for byte; Disk applies them to
// files atomically, with backups and what Undo needs to remove exactly what
// Apply added.
//
// What Undo knows, per client: for daemon.json a record next to the file
// (daemon.json.hubmirror, a DockerRecord) of the mirror and host Apply
// added and the keys it made; for hosts.toml a marker line with the
// SHA-256 of the file's text, so a file is removed only while unchanged;
// for registries.conf the lines between "# BEGIN hubmirror" and
// "# END hubmirror".
package clientconf
