"""Writing where the user's files are: never replacing one by accident, never leaving half a file.

- `replace`: `--overwrite` refusals and write-aside-then-rename for folders and files (`written_aside`:
  the one atomic write of a single file, used by the feature cache, the photo store, the manifest and
  `predict --out`);
- `digests`: the SHA-256 of named tensors (a model's `encoder_fingerprint`, cache entries) and the cache's
  folder keys (a file's SHA-256 is `mmsent.paths.file_sha256`, below every layer);
- `report_dir`: a report folder written into a temporary folder beside it, renamed into place;
- `interrupts`: SIGTERM handled like Ctrl-C, and a full disk turned into one error line.

May import: errors.
"""
