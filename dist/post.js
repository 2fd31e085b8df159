// gitops-bump post step: removes the Google credentials file the main step
// wrote, also when the job failed.
//
// The step state names the file, and state can be forged: a line like
// `##[save-state name=credentials-file;]/some/path` printed by anything in
// the main step is recorded as our state. So a file is removed only when it
// is provably ours: a regular file (not a link) directly inside RUNNER_TEMP,
// named like the files we create, whose bytes hash to the SHA-256 the main
// step recorded. Anything else is left alone with a warning.
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const NAME = /^gitops-bump-creds-[0-9a-f]{16}\.json$/;
const DIGEST = /^[0-9a-f]{64}$/;

// A value we did not write, made safe for a workflow command's message.
function escapeData(value) {
  return String(value)
    .slice(0, 300)
    .replace(/%/g, '%25')
    .replace(/\r/g, '%0D')
    .replace(/\n/g, '%0A')
    .replace(/::/g, ':%3A');
}

function warn(message) {
  process.stdout.write(`::warning title=gitops-bump::${escapeData(message)}\n`);
}

// Why `file` is not ours to delete, or null when it is.
function refusal(file, digest, runnerTemp) {
  if (!runnerTemp || !path.isAbsolute(runnerTemp)) {
    return 'RUNNER_TEMP is not set';
  }
  if (!path.isAbsolute(file)) {
    return 'the path is not absolute';
  }
  if (!NAME.test(path.basename(file))) {
    return 'the name is not one gitops-bump creates (gitops-bump-creds-<16 hex>.json)';
  }
  let dir;
  let temp;
  try {
    dir = fs.realpathSync(path.dirname(file));
    temp = fs.realpathSync(runnerTemp);
  } catch (e) {
    return `cannot resolve its directory: ${e.message}`;
  }
  if (dir !== temp) {
    return 'it is not directly inside RUNNER_TEMP';
  }
  const target = path.join(dir, path.basename(file));
  let stat;
  try {
    stat = fs.lstatSync(target);
  } catch (e) {
    return e.code === 'ENOENT' ? null : `cannot inspect it: ${e.message}`;
  }
  if (!stat.isFile()) {
    return 'it is not a regular file (a link or a directory)';
  }
  if (!DIGEST.test(digest || '')) {
    return 'the main step recorded no SHA-256 for it';
  }
  const actual = crypto.createHash('sha256').update(fs.readFileSync(target)).digest('hex');
  if (actual !== digest) {
    return 'its content is not the file the main step wrote (SHA-256 differs)';
  }
  return null;
}

function main() {
  const file = process.env['STATE_credentials-file'];
  if (!file) {
    return;
  }
  const digest = process.env['STATE_credentials-file-sha256'];
  const why = refusal(file, digest, process.env.RUNNER_TEMP);
  if (why) {
    warn(`not removing ${file}: ${why}. The step state names it, but only a credentials file gitops-bump wrote is removed`);
    return;
  }
  try {
    fs.rmSync(file, { force: true });
    process.stdout.write(`Removed credentials file ${escapeData(file)}\n`);
  } catch (e) {
    warn(`could not remove credentials file ${file}: ${e.message}`);
  }
}

main();
