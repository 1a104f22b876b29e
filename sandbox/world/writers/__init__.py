"""One writer per real file format; each takes plain rows/objects and streams them to disk."""
