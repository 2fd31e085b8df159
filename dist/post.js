// gitops-bump post step: removes the Google credentials file and the Docker
// config (docker-registries) the main step wrote, also when the job failed.
//
// The step state names the file, and state can be forged: a line like
// `##[save-state name=credentials-file;]/some/path` printed by anything in
// the main step is recorded as our state. So a file is removed only when it
// is provably ours: a regular file (not a link) directly inside RUNNER_TEMP,
// named like the files we create, whose bytes hash to the SHA-256 the main
// step recorded. The Docker config is `config.json` in a directory named
// gitops-bump-docker-<16 hex> (not a link) directly inside RUNNER_TEMP, with
// the same digest check; its directory is removed too when nothing else is
// left in it. Anything else is left alone with a warning.
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const NAME = /^gitops-bump-creds-[0-9a-f]{16}\.json$/;
const DOCKER_DIR = /^gitops-bump-docker-[0-9a-f]{16}$/;
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

// Why `file` is not ours to delete, or null when it is. `name` checks its
// base name, `parent` its directory: RUNNER_TEMP itself, or one of our
// directories directly inside it.
function refusal(file, digest, runnerTemp, kind) {
  if (!runnerTemp || !path.isAbsolute(runnerTemp)) {
    return 'RUNNER_TEMP is not set';
  }
  if (!path.isAbsolute(file)) {
    return 'the path is not absolute';
  }
  if (!kind.name.test(path.basename(file))) {
    return `the name is not one gitops-bump creates (${kind.shape})`;
  }
  let dir;
  let temp;
  try {
    temp = fs.realpathSync(runnerTemp);
    if (kind.inOwnDir) {
      const own = path.dirname(file);
      if (!DOCKER_DIR.test(path.basename(own))) {
        return 'its directory is not one gitops-bump creates (gitops-bump-docker-<16 hex>)';
      }
      if (!fs.lstatSync(own).isDirectory()) {
        return 'its directory is a link, not a directory';
      }
      if (fs.realpathSync(path.dirname(own)) !== temp) {
        return 'its directory is not directly inside RUNNER_TEMP';
      }
      dir = path.join(temp, path.basename(own));
    } else {
      dir = fs.realpathSync(path.dirname(file));
      if (dir !== temp) {
        return 'it is not directly inside RUNNER_TEMP';
      }
    }
  } catch (e) {
    return `cannot resolve its directory: ${e.message}`;
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

const KINDS = [
  {
    state: 'credentials-file',
    what: 'credentials file',
    name: NAME,
    shape: 'gitops-bump-creds-<16 hex>.json',
    inOwnDir: false,
  },
  {
    state: 'docker-config',
    what: 'Docker config',
    name: /^config\.json$/,
    shape: 'config.json',
    inOwnDir: true,
  },
];

function clean(kind) {
  const file = process.env[`STATE_${kind.state}`];
  if (!file) {
    return;
  }
  const digest = process.env[`STATE_${kind.state}-sha256`];
  const why = refusal(file, digest, process.env.RUNNER_TEMP, kind);
  if (why) {
    warn(`not removing ${file}: ${why}. The step state names it, but only a ${kind.what} gitops-bump wrote is removed`);
    return;
  }
  try {
    fs.rmSync(file, { force: true });
    process.stdout.write(`Removed ${kind.what} ${escapeData(file)}\n`);
  } catch (e) {
    warn(`could not remove ${kind.what} ${file}: ${e.message}`);
    return;
  }
  if (kind.inOwnDir) {
    try {
      fs.rmdirSync(path.dirname(file));
    } catch (e) {
      // Another tool (docker buildx) may keep files there; they are not ours.
      if (e.code !== 'ENOENT' && e.code !== 'ENOTEMPTY' && e.code !== 'EEXIST') {
        warn(`could not remove directory ${path.dirname(file)}: ${e.message}`);
      }
    }
  }
}

function main() {
  for (const kind of KINDS) {
    clean(kind);
  }
}

main();
