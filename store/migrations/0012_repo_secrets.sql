-- A forge token is a secret of the server, never a path an API caller
-- chose: a repository names it among the files of secrets_dir
-- (token_secret) or holds it sealed with the secrets key (token_sealed).
-- token_file stays for the repositories that named one before: it is read
-- only when it lies in secrets_dir under a secret's name, and written
-- empty from now on.
ALTER TABLE repositories ADD COLUMN token_secret TEXT NOT NULL DEFAULT '';
ALTER TABLE repositories ADD COLUMN token_sealed TEXT NOT NULL DEFAULT '';

-- A local path is fetched only for a repository the in-process CLI added
-- (or under change.allow_local_repos). The in-process CLI is the actor
-- "cli:<user>"; a repository added through the API before this migration
-- is not marked, so its local path is no longer fetched.
ALTER TABLE repositories ADD COLUMN added_locally BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE repositories SET added_locally = TRUE WHERE created_by LIKE 'cli:%';
