/**
 * Build step: bundles the workflow code once into lib/workflow-bundle.js, so a worker (and every embedded
 * `snapbuild build`) starts without running webpack. Run by `npm run build` after tsc.
 */
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { bundleWorkflows } from '../worker';

bundleWorkflows().then(
  ({ code }) => writeFileSync(path.join(__dirname, '..', 'workflow-bundle.js'), code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
