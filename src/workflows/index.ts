/** The workflow bundle's entry point: every workflow the worker serves. */
export { buildWorkflow } from './build';
export { fanoutWorkflow } from './fanout';
export { versionCheckWorkflow } from './version-check';
export { janitorWorkflow } from './janitor';
