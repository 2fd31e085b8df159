// gitops-bump action entry: picks the native binary for this runner, checks
// its SHA-256 against the checked-in manifest and runs it with the inputs the
// runner passed in the environment. No dependencies, no downloads: a missing
// binary is an error, never a fetch from an unpinned place.
'use strict';

const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const OS = { Linux: 'linux', macOS: 'macos', Windows: 'windows', linux: 'linux', darwin: 'macos', win32: 'windows' };
const ARCH = { X64: 'x64', ARM64: 'arm64', x64: 'x64', arm64: 'arm64' };

function fail(message) {
  const escaped = String(message).replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
  process.stdout.write(`::error title=gitops-bump::${escaped}\n`);
  process.exit(1);
}

function platformKey(env) {
  const os = OS[env.RUNNER_OS || process.platform];
  const arch = ARCH[env.RUNNER_ARCH || process.arch];
  if (!os || !arch) {
    fail(`unsupported runner platform ${env.RUNNER_OS || process.platform}/${env.RUNNER_ARCH || process.arch}; ` +
      'gitops-bump ships linux x64/arm64, macOS x64/arm64 and windows x64');
  }
  return `${os}-${arch}`;
}

function locateBinary(distDir, key) {
  const manifestPath = path.join(distDir, 'checksums.json');
  let manifest;
  try {
    manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
  } catch (e) {
    fail(`cannot read ${manifestPath}: ${e.message}`);
  }
  const entry = (manifest.binaries || {})[key];
  if (!entry) {
    fail(`this ref of gitops-bump has no binary for ${key}. Use a release tag (uses: org/gitops-bump@v1), ` +
      'not a branch: binaries are attached by the release workflow');
  }
  const file = path.resolve(distDir, entry.file);
  if (!file.startsWith(distDir + path.sep)) {
    fail(`checksums.json points outside dist/: ${entry.file}`);
  }
  let bytes;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    fail(`binary ${entry.file} for ${key} is missing: ${e.message}`);
  }
  const actual = crypto.createHash('sha256').update(bytes).digest('hex');
  if (actual !== entry.sha256) {
    fail(`checksum mismatch for ${entry.file}: expected sha256 ${entry.sha256}, got ${actual}; refusing to run it`);
  }
  if (process.platform !== 'win32') {
    fs.chmodSync(file, 0o755);
  }
  return file;
}

function main() {
  const distDir = path.resolve(__dirname);
  const binary = locateBinary(distDir, platformKey(process.env));
  const child = spawn(binary, ['run'], { stdio: 'inherit', env: process.env });
  const forward = (signal) => () => child.kill(signal);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, forward(signal));
  }
  child.on('error', (e) => fail(`cannot start ${binary}: ${e.message}`));
  child.on('exit', (code, signal) => {
    if (signal) {
      const number = require('node:os').constants.signals[signal] || 1;
      process.exit(128 + number);
    }
    process.exit(code === null ? 1 : code);
  });
}

main();
