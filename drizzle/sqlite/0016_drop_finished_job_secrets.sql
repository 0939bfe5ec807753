-- An encrypted PDF's password is kept in its job file's options only until the file is read
-- (src/stores/metadata.ts: FILE_OPTION_SECRETS). Rows written before that rule: drop it from
-- finished files and from every file of a finished job.
UPDATE `job_files` SET `options` = json_remove(`options`, '$.password')
WHERE json_type(`options`, '$.password') IS NOT NULL
  AND (`status` IN ('succeeded', 'unchanged', 'failed', 'cancelled')
    OR `job_id` IN (SELECT `id` FROM `jobs` WHERE `status` IN ('succeeded', 'failed', 'partial', 'cancelled')));
