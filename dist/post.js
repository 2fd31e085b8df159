// gitops-bump post step: removes the Google credentials file the main step
// wrote (its path is saved in the step state), also when the job failed.
'use strict';

const fs = require('node:fs');

const file = process.env['STATE_credentials-file'];
if (file) {
  try {
    fs.rmSync(file, { force: true });
    process.stdout.write(`Removed credentials file ${file}\n`);
  } catch (e) {
    process.stdout.write(`::warning title=gitops-bump::could not remove credentials file ${file}: ${e.message}\n`);
  }
}
